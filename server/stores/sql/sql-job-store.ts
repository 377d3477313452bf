import {
  asInterrupted,
  parseStoredJob,
  UNFINISHED_JOB_STATES,
  type JobRecord,
  type JobStore
} from '../job-store';
import type { JobRow, JobRows, SqlDialect } from './port';

const toRow = (job: JobRecord): JobRow => ({
  jobId: job.jobId,
  state: job.state,
  createdAt: job.createdAt,
  record: JSON.stringify(job)
});

const fromRow = (row: JobRow): JobRecord => parseStoredJob(row.record, row.jobId);

/**
 * The job history in a SQL database (the catalog's, in a table of its own), for every dialect.
 * Each record is stored whole as JSON (counters and errors change together) and parsed with the
 * job schema when read.
 */
export class SqlJobStore implements JobStore {
  constructor(private readonly dialect: SqlDialect<JobRows>) {}

  save(job: JobRecord): Promise<void> {
    const row = toRow(job);
    return this.dialect.transaction((rows) => rows.upsertJob(row));
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const row = await this.dialect.read((rows) => rows.job(jobId));
    return row ? fromRow(row) : undefined;
  }

  async recent(limit: number): Promise<JobRecord[]> {
    return (await this.dialect.read((rows) => rows.recentJobs(limit))).map(fromRow);
  }

  interruptUnfinished(): Promise<number> {
    return this.dialect.transaction(async (rows) => {
      const unfinished = await rows.jobsInStates(UNFINISHED_JOB_STATES);
      for (const row of unfinished) await rows.upsertJob(toRow(asInterrupted(fromRow(row))));
      return unfinished.length;
    });
  }
}
