import { z } from 'zod';

/**
 * Index jobs: their states, counters and the stored record. The zod schemas are the one source of
 * these shapes: the types below are inferred from them, stored records are parsed with them, and
 * the HTTP layer builds its wire schemas from them.
 */

/** `paused`: a store is unreachable; the job waits and resumes by itself when it is back. */
export const jobStateSchema = z.enum([
  'queued',
  'running',
  'paused',
  'done',
  'failed',
  'cancelled',
  'interrupted'
]);
export type JobState = z.infer<typeof jobStateSchema>;

/** What an index job counts; `indexed` only counts entries already durable. */
export const indexCountersSchema = z.object({
  seen: z.int(),
  indexed: z.int(),
  unchanged: z.int(),
  skipped: z.int(),
  failed: z.int(),
  removed: z.int()
});
export type IndexCounters = z.infer<typeof indexCountersSchema>;

export const jobErrorSchema = z.object({ path: z.string(), reason: z.string() });

export const jobRecordSchema = indexCountersSchema.extend({
  jobId: z.string(),
  state: jobStateSchema,
  path: z.string(),
  recursive: z.boolean(),
  /** Entries the job will look at (`seen` at the end), once a counting walk found them. */
  total: z.int().optional(),
  errors: z.array(jobErrorSchema),
  createdAt: z.number(),
  finishedAt: z.number().optional(),
  message: z.string().optional(),
  /** The collection the job indexes into (records from before collections: the default one). */
  collection: z.string().default('default'),
  /**
   * The server (one random id per process) that runs the job, and until when (Unix ms) its lease
   * holds: the owner renews it while the job is queued or running, so an unfinished job whose
   * lease ran out belongs to a server that is gone. Records from before leases have neither.
   */
  owner: z.string().optional(),
  leaseUntil: z.number().optional(),
  /**
   * Where the owner runs (`<boot id>/<pid namespace>` and its pid), so a server on the same
   * machine can tell at once that the owner process is gone instead of waiting for the lease.
   */
  ownerProcess: z.object({ machine: z.string(), pid: z.int() }).optional(),
  /** Another server asked to cancel it: its owner stops it at its next lease renewal. */
  cancelRequested: z.boolean().optional()
});
export type JobRecord = z.infer<typeof jobRecordSchema>;

/**
 * What a start makes of an unfinished job of the same folder: it is the `answer` (another server
 * runs it), it stays (`keep`: the starting server's own, the new job queues behind it), or its
 * server is gone (`interrupt`).
 */
export type FolderJobVerdict = 'answer' | 'keep' | 'interrupt';

/** What `startUnlessRunning` decided: the job now running the folder, and whether it is new. */
export interface StartDecision {
  job: JobRecord;
  created: boolean;
  /** Unfinished jobs of the folder whose server is gone, now `interrupted`. */
  interrupted: JobRecord[];
}

/** What the store answered an owner's save. */
export interface OwnedSave {
  /** False: the job is no longer this owner's (another server found it stopped and took over). */
  saved: boolean;
  /** Another server asked to cancel the job. */
  cancelRequested: boolean;
}

/**
 * The history of index jobs. Not collection data (a clear keeps it, the content revision ignores
 * it), so it is a store of its own, even where it shares the catalog's database. Several servers
 * may share it (MySQL): the methods that decide about unfinished jobs each run as one transaction
 * that holds the unfinished jobs' rows, so two servers never decide on stale views.
 */
export interface JobStore {
  /**
   * True when no other process can use this store at the same time (SQLite in the locked data
   * directory): an unfinished job that this process does not run is then certainly stopped.
   */
  readonly exclusive: boolean;
  /** Inserts or replaces the job with this `jobId`. */
  save(job: JobRecord): Promise<void>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /** The newest `limit` jobs (of `collection` when given), newest first (by `createdAt`). */
  recent(limit: number, collection?: string): Promise<JobRecord[]>;
  /**
   * At start-up: unfinished (queued, running, paused) jobs that `stopped` picks (all by default)
   * become `interrupted`; returns how many.
   */
  interruptUnfinished(stopped?: (job: JobRecord) => boolean): Promise<number>;
  /**
   * One transaction over the unfinished jobs of the same collection and path, each judged by
   * `judge`: when one is to be the `answer`, answers it and records nothing; otherwise marks those
   * to `interrupt` as such, keeps the others, and records `job`.
   */
  startUnlessRunning(
    job: JobRecord,
    judge: (other: JobRecord) => FolderJobVerdict
  ): Promise<StartDecision>;
  /**
   * Saves a job its owner runs (progress, lease, end), unless the stored job is finished or owned
   * by another server: then nothing is written and `saved` is false. Keeps a cancel request.
   */
  saveOwned(job: JobRecord): Promise<OwnedSave>;
  /** Marks an unfinished job as asked to cancel; returns it (undefined: no such unfinished job). */
  requestCancel(jobId: string): Promise<JobRecord | undefined>;
}

/** States a job can be left in by a process that stopped without finishing it. */
export const UNFINISHED_JOB_STATES: readonly JobState[] = ['queued', 'running', 'paused'];

/** What a job a crash stopped becomes at the next start. */
export function asInterrupted(job: JobRecord, now = Date.now()): JobRecord {
  return {
    ...job,
    state: 'interrupted',
    finishedAt: now,
    message:
      'The server stopped during this job. Everything counted as indexed is kept; run it again to finish.'
  };
}

export const isUnfinished = (job: JobRecord) => UNFINISHED_JOB_STATES.includes(job.state);

/** A stored job's JSON, checked: a corrupt or foreign row is a clear error, not a wrong shape. */
export function parseStoredJob(json: string, jobId: string): JobRecord {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new Error(`The stored record of job ${jobId} is not JSON`, { cause: error });
  }
  const parsed = jobRecordSchema.safeParse(value);
  if (!parsed.success) {
    throw new Error(
      `The stored record of job ${jobId} is not a job: ${z.prettifyError(parsed.error)}`,
      { cause: parsed.error }
    );
  }
  return parsed.data;
}
