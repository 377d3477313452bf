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
  message: z.string().optional()
});
export type JobRecord = z.infer<typeof jobRecordSchema>;

/**
 * The history of index jobs. Not collection data (a clear keeps it, the content revision ignores
 * it), so it is a store of its own, even where it shares the catalog's database.
 */
export interface JobStore {
  /** Inserts or replaces the job with this `jobId`. */
  save(job: JobRecord): Promise<void>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /** The newest `limit` jobs, newest first (by `createdAt`). */
  recent(limit: number): Promise<JobRecord[]>;
  /** At start-up: jobs a crash left queued, running or paused become `interrupted`; returns how many. */
  interruptUnfinished(): Promise<number>;
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
