import { api, ApiRequestError, dataOf } from './client';
import type { IndexJob, IndexJobErrorsPage } from './types';

/**
 * Calls behind the collection panel: count, clear, and index jobs (see /api/openapi.json).
 * Errors come from client.ts: ApiRequestError with the server's message, or ServerUnreachableError.
 *
 * A server started with LOOKALIKE_ADMIN_TOKEN wants `Authorization: Bearer <token>` on the calls
 * that change the collection. The token the user typed is kept for this tab only
 * (sessionStorage): it is a password, not a preference.
 */

const TOKEN_KEY = 'lookalike-admin-token';
/** Where sessionStorage is blocked (some privacy settings), the token lasts until the page closes. */
let tokenInMemory: string | undefined;

export function adminToken(): string | undefined {
  try {
    const storage = globalThis.sessionStorage;
    // getItem may work where setItem throws (some private modes): fall back to the memory copy.
    return (storage?.getItem(TOKEN_KEY) ?? undefined) || tokenInMemory;
  } catch {
    return tokenInMemory;
  }
}

/** Keeps the token for the next calls; `undefined` forgets it (e.g. the server refused it). */
export function setAdminToken(token: string | undefined): void {
  tokenInMemory = token;
  try {
    if (token === undefined) globalThis.sessionStorage?.removeItem(TOKEN_KEY);
    else globalThis.sessionStorage?.setItem(TOKEN_KEY, token);
  } catch {
    // blocked storage: the in-memory copy serves
  }
}

/** The server refused a change for want of the right admin token (missing, malformed or wrong). */
export function needsAdminToken(error: unknown): error is ApiRequestError {
  return (
    error instanceof ApiRequestError && (error.status === 401 || error.code === 'unauthorized')
  );
}

function adminHeaders(headers: Record<string, string> = {}): Record<string, string> {
  const token = adminToken();
  return token ? { ...headers, authorization: `Bearer ${token}` } : headers;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function fetchImageCount(): Promise<number> {
  return dataOf(await api.GET('/api/images/count')).count;
}

/** Forgets every picture; the files on disk are not touched. */
export async function clearCollection(): Promise<void> {
  dataOf(await api.DELETE('/api/images', { headers: adminHeaders() }));
}

export async function startIndexJob(path: string, recursive: boolean): Promise<string> {
  const body = { path, recursive };
  return dataOf(await api.POST('/api/index', { body, headers: adminHeaders() })).jobId;
}

/** Recent jobs, newest first. */
export async function listIndexJobs(limit = 10): Promise<IndexJob[]> {
  return dataOf(await api.GET('/api/index', { params: { query: { limit } } })).jobs;
}

export async function fetchIndexJob(jobId: string): Promise<IndexJob> {
  return dataOf(await api.GET('/api/index/{jobId}', { params: { path: { jobId } } }));
}

export async function cancelIndexJob(jobId: string): Promise<IndexJob> {
  const params = { path: { jobId } };
  return dataOf(await api.DELETE('/api/index/{jobId}', { params, headers: adminHeaders() }));
}

/** A page of a job's per-file errors (the job body lists only the first ones). */
export async function fetchIndexJobErrors(
  jobId: string,
  offset: number,
  limit = 200
): Promise<IndexJobErrorsPage> {
  const params = { path: { jobId }, query: { offset, limit } };
  return dataOf(await api.GET('/api/index/{jobId}/errors', { params }));
}

/**
 * Server-sent events: the job's progress (unnamed events) at most ten a second, the final state
 * last, and `errors` events with the per-file errors added since the previous event. EventSource
 * reads it, not openapi-fetch; the events' JSON is typed by IndexJobProgress and
 * IndexJobErrorsEvent.
 */
export function indexJobEventsUrl(jobId: string): string {
  return `/api/index/${encodeURIComponent(jobId)}/events`;
}
