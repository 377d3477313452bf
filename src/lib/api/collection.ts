import { getJson, requestJson } from './client';
import type { IndexJob } from './types';

/**
 * Calls behind the collection panel: count, clear, and index jobs (see /api/openapi.json).
 * Errors come from client.ts: ApiRequestError with the server's message, or ServerUnreachableError.
 */

export async function fetchImageCount(): Promise<number> {
  return (await getJson<{ count: number }>('/api/images/count')).count;
}

/** Forgets every picture; the files on disk are not touched. */
export async function clearCollection(): Promise<void> {
  await requestJson<{ cleared: true }>('/api/images', { method: 'DELETE' });
}

export async function startIndexJob(path: string, recursive: boolean): Promise<string> {
  const { jobId } = await requestJson<{ jobId: string }>('/api/index', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path, recursive })
  });
  return jobId;
}

/** Recent jobs, newest first. */
export async function listIndexJobs(limit = 10): Promise<IndexJob[]> {
  return (await getJson<{ jobs: IndexJob[] }>(`/api/index?limit=${limit}`)).jobs;
}

export function cancelIndexJob(jobId: string): Promise<IndexJob> {
  return requestJson<IndexJob>(`/api/index/${encodeURIComponent(jobId)}`, { method: 'DELETE' });
}

/** Server-sent events: one message with the job JSON per change, the final state last. */
export function indexJobEventsUrl(jobId: string): string {
  return `/api/index/${encodeURIComponent(jobId)}/events`;
}
