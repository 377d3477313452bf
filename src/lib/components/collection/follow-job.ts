import { indexJobEventsUrl } from '$lib/api/collection';
import { DEFAULT_COLLECTION } from '$lib/api/collection-scope';
import {
  FINISHED_JOB_STATES,
  type IndexJobError,
  type IndexJobErrorsEvent,
  type IndexJobProgress
} from '$lib/api/types';

export interface FollowHandlers {
  /** Every state the server reports, the final one last. */
  onUpdate(job: IndexJobProgress): void;
  /** Per-file errors: `errors` are the job's errors from index `offset` on. */
  onErrors?(offset: number, errors: IndexJobError[]): void;
  /** The stream closed for good before the job finished (e.g. the job is unknown). */
  onLost(message: string): void;
}

export const isFinishedJob = (job: Pick<IndexJobProgress, 'state'>) =>
  FINISHED_JOB_STATES.includes(job.state);

const parse = <T>(data: string): T | undefined => {
  try {
    return JSON.parse(data) as T;
  } catch {
    return undefined; // not ours (a proxy's keep-alive): the next message carries the state
  }
};

/**
 * Follows an index job of `collection` over server-sent events until it finishes; returns a
 * function that stops following. The stream starts with the job's errors so far and its state,
 * then brings progress and only the errors added since. While the server is unreachable EventSource keeps reconnecting
 * by itself, and resumes after the last error it got (Last-Event-ID), so nothing is missed.
 */
export function followJob(
  jobId: string,
  handlers: FollowHandlers,
  collection = DEFAULT_COLLECTION
): () => void {
  const source = new EventSource(indexJobEventsUrl(jobId, collection));
  source.onmessage = (event: MessageEvent<string>) => {
    const job = parse<IndexJobProgress>(event.data);
    if (!job) return;
    handlers.onUpdate(job);
    // Closed here: left open, EventSource would reconnect and replay the final state forever.
    if (isFinishedJob(job)) source.close();
  };
  source.addEventListener('errors', (event: MessageEvent<string>) => {
    const batch = parse<IndexJobErrorsEvent>(event.data);
    if (batch) handlers.onErrors?.(batch.offset, batch.errors);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      handlers.onLost('Lost track of the index job: the server stopped sending its progress');
    }
  };
  return () => source.close();
}
