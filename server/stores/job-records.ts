// Moved to job-store.ts; kept as a re-export until every import points there.
export { asInterrupted, UNFINISHED_JOB_STATES } from './job-store';
