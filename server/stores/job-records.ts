import type { JobRecord, JobState } from './catalog';

/** States a job can be left in by a process that stopped without finishing it. */
export const UNFINISHED_JOB_STATES: JobState[] = ['queued', 'running', 'paused'];

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
