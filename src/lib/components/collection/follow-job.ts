import { indexJobEventsUrl } from '$lib/api/collection';
import { FINISHED_JOB_STATES, type IndexJob } from '$lib/api/types';

export interface FollowHandlers {
  /** Every state the server reports, the final one last. */
  onUpdate(job: IndexJob): void;
  /** The stream closed for good before the job finished (e.g. the job is unknown). */
  onLost(message: string): void;
}

export const isFinishedJob = (job: IndexJob) => FINISHED_JOB_STATES.includes(job.state);

/**
 * Follows an index job over server-sent events until it finishes; returns a function that stops
 * following. While the server is unreachable EventSource keeps reconnecting by itself, and on
 * reconnecting the server sends the current state first, so nothing is missed.
 */
export function followJob(jobId: string, handlers: FollowHandlers): () => void {
  const source = new EventSource(indexJobEventsUrl(jobId));
  source.onmessage = (event: MessageEvent<string>) => {
    let job: IndexJob;
    try {
      job = JSON.parse(event.data) as IndexJob;
    } catch {
      return; // not ours (a proxy's keep-alive): the next message carries the state
    }
    handlers.onUpdate(job);
    // Closed here: left open, EventSource would reconnect and replay the final state forever.
    if (isFinishedJob(job)) source.close();
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      handlers.onLost('Lost track of the index job: the server stopped sending its progress');
    }
  };
  return () => source.close();
}
