import {
  asInterrupted,
  isUnfinished,
  parseStoredJob,
  UNFINISHED_JOB_STATES,
  type JobRecord,
  type FolderJobVerdict,
  type JobStore,
  type OwnedSave,
  type StartDecision
} from '../job-store';
import type { JobRow, JobRows, SqlDialect } from './port';

const toRow = (job: JobRecord): JobRow => ({
  jobId: job.jobId,
  state: job.state,
  createdAt: job.createdAt,
  collection: job.collection,
  record: JSON.stringify(job)
});

const fromRow = (row: JobRow): JobRecord => parseStoredJob(row.record, row.jobId);

/**
 * The job history in a SQL database (the catalog's, in a table of its own), for every dialect.
 * Each record is stored whole as JSON (counters and errors change together) and parsed with the
 * job schema when read.
 *
 * Decisions about unfinished jobs (start one unless the folder has a live job, save as the owner,
 * interrupt stopped ones, ask to cancel) each run in one transaction that first reads the
 * unfinished jobs with `jobsInStates`, which on MySQL locks them (found by the state index: only
 * those rows and the index gaps around them, not the whole history) until the transaction ends; SQLite
 * runs transactions one at a time. So two servers deciding about the same folder run one after
 * the other, and the second sees the first's job. (`dialect.write`'s change-sequence lock would
 * serialise them too, but it belongs to content writes: jobs would then wait for image batches,
 * and the job store has only the job rows.) Two starts on an empty jobs table can still both
 * hold the gap; InnoDB then breaks the deadlock by rolling one back, and the dialect runs that
 * transaction again, which then sees the other's job.
 */
export class SqlJobStore implements JobStore {
  readonly exclusive: boolean;

  constructor(private readonly dialect: SqlDialect<JobRows> & { readonly kind?: string }) {
    // A SQLite catalog lives in the data directory, which one process at a time holds.
    this.exclusive = dialect.kind === 'sqlite';
  }

  save(job: JobRecord): Promise<void> {
    const row = toRow(job);
    return this.dialect.transaction((rows) => rows.upsertJob(row));
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const row = await this.dialect.read((rows) => rows.job(jobId));
    return row ? fromRow(row) : undefined;
  }

  /** One indexed read: (collection, created_at) for one collection's, created_at for all. */
  async recent(limit: number, collection?: string): Promise<JobRecord[]> {
    const rows = await this.dialect.read((r) => r.recentJobs(limit, collection));
    return rows.map(fromRow);
  }

  interruptUnfinished(stopped: (job: JobRecord) => boolean = () => true): Promise<number> {
    return this.dialect.transaction(async (rows) => {
      const now = Date.now();
      const gone = (await this.unfinished(rows)).filter(stopped);
      for (const job of gone) await rows.upsertJob(toRow(asInterrupted(job, now)));
      return gone.length;
    });
  }

  startUnlessRunning(
    job: JobRecord,
    judge: (other: JobRecord) => FolderJobVerdict
  ): Promise<StartDecision> {
    return this.dialect.transaction(async (rows) => {
      const now = Date.now();
      const sameFolder = (await this.unfinished(rows)).filter(
        (other) => other.collection === job.collection && other.path === job.path
      );
      const verdicts = sameFolder.map(judge);
      const running = sameFolder.find((_, i) => verdicts[i] === 'answer');
      if (running) return { job: running, created: false, interrupted: [] };
      const interrupted = sameFolder
        .filter((_, i) => verdicts[i] === 'interrupt')
        .map((other) => asInterrupted(other, now));
      for (const other of interrupted) await rows.upsertJob(toRow(other));
      await rows.upsertJob(toRow(job));
      return { job, created: true, interrupted };
    });
  }

  saveOwned(job: JobRecord): Promise<OwnedSave> {
    return this.dialect.transaction(async (rows) => {
      const stored = (await this.unfinished(rows)).find((other) => other.jobId === job.jobId);
      if (!stored || stored.owner !== job.owner) return { saved: false, cancelRequested: false };
      const cancelRequested = stored.cancelRequested === true;
      await rows.upsertJob(toRow(cancelRequested ? { ...job, cancelRequested } : job));
      return { saved: true, cancelRequested };
    });
  }

  requestCancel(jobId: string): Promise<JobRecord | undefined> {
    return this.dialect.transaction(async (rows) => {
      const stored = (await this.unfinished(rows)).find((other) => other.jobId === jobId);
      if (!stored) return undefined;
      const asked = { ...stored, cancelRequested: true };
      await rows.upsertJob(toRow(asked));
      return asked;
    });
  }

  /** The unfinished jobs, locked until the transaction ends (see the class comment). */
  private async unfinished(rows: JobRows): Promise<JobRecord[]> {
    const found = (await rows.jobsInStates(UNFINISHED_JOB_STATES)).map(fromRow);
    // The state column and the record agree (both written from one record), but trust the record.
    return found.filter(isUnfinished);
  }
}
