import { adminHeaders } from './admin-token';
import { api, dataOf } from './client';
import { collectionQuery, DEFAULT_COLLECTION, withCollection } from './collection-scope';
import type { IndexJob, IndexJobErrorsPage } from './types';

/**
 * Calls behind the collection panel: the named collections (list, create, delete), and one
 * collection's count, clear and index jobs (see /api/openapi.json). Every call about one
 * collection takes it last (`collection`, the default when left out); the default's calls carry
 * no query, as before collections.
 * Errors come from client.ts: ApiRequestError with the server's message, or ServerUnreachableError.
 * The calls that change the collection send the admin token (admin-token.ts).
 */

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One collection as GET /api/collections describes it. */
export interface CollectionSummary {
  name: string;
  /** The model that built it; null while it is empty and took none yet. */
  model: { id: string; dimension: number } | null;
  images: number;
  default: boolean;
}

/** Every collection on the server, the default included. */
export async function listCollections(): Promise<CollectionSummary[]> {
  const { collections } = dataOf(await api.GET('/api/collections', { cache: 'no-store' }));
  return collections.map(({ name, model, images, default: isDefault }) => ({
    name,
    model: model ? { id: model.id, dimension: model.dimension } : null,
    images,
    default: isDefault
  }));
}

/** Creates `name` with `model` (a model id the server can resolve), or the server's own model. */
export async function createCollection(name: string, model?: string): Promise<void> {
  const body = { name, ...(model ? { model } : {}) };
  dataOf(await api.POST('/api/collections', { body, headers: adminHeaders() }));
}

/** Deletes it on the server (the default is emptied instead: it always exists). */
export async function deleteCollection(name: string): Promise<void> {
  const params = { path: { name } };
  dataOf(await api.DELETE('/api/collections/{name}', { params, headers: adminHeaders() }));
}

export async function fetchImageCount(collection = DEFAULT_COLLECTION): Promise<number> {
  const params = { query: collectionQuery(collection) };
  return dataOf(await api.GET('/api/images/count', { params })).count;
}

/** Forgets every picture of the collection; the files on disk are not touched. */
export async function clearCollection(collection = DEFAULT_COLLECTION): Promise<void> {
  const params = { query: collectionQuery(collection) };
  dataOf(await api.DELETE('/api/images', { params, headers: adminHeaders() }));
}

export async function startIndexJob(
  path: string,
  recursive: boolean,
  collection = DEFAULT_COLLECTION
): Promise<string> {
  const body = { path, recursive };
  const params = { query: collectionQuery(collection) };
  return dataOf(await api.POST('/api/index', { params, body, headers: adminHeaders() })).jobId;
}

/** Recent jobs of the collection, newest first. */
export async function listIndexJobs(
  limit = 10,
  collection = DEFAULT_COLLECTION
): Promise<IndexJob[]> {
  const params = { query: { limit, ...collectionQuery(collection) } };
  return dataOf(await api.GET('/api/index', { params })).jobs;
}

export async function fetchIndexJob(
  jobId: string,
  collection = DEFAULT_COLLECTION
): Promise<IndexJob> {
  const params = { path: { jobId }, query: collectionQuery(collection) };
  return dataOf(await api.GET('/api/index/{jobId}', { params }));
}

export async function cancelIndexJob(
  jobId: string,
  collection = DEFAULT_COLLECTION
): Promise<IndexJob> {
  const params = { path: { jobId }, query: collectionQuery(collection) };
  return dataOf(await api.DELETE('/api/index/{jobId}', { params, headers: adminHeaders() }));
}

/** A page of a job's per-file errors (the job body lists only the first ones). */
export async function fetchIndexJobErrors(
  jobId: string,
  offset: number,
  limit = 200,
  collection = DEFAULT_COLLECTION
): Promise<IndexJobErrorsPage> {
  const params = { path: { jobId }, query: { offset, limit, ...collectionQuery(collection) } };
  return dataOf(await api.GET('/api/index/{jobId}/errors', { params }));
}

/**
 * Server-sent events: the job's progress (unnamed events) at most ten a second, the final state
 * last, and `errors` events with the per-file errors added since the previous event. EventSource
 * reads it, not openapi-fetch; the events' JSON is typed by IndexJobProgress and
 * IndexJobErrorsEvent.
 */
export function indexJobEventsUrl(jobId: string, collection = DEFAULT_COLLECTION): string {
  return withCollection(`/api/index/${encodeURIComponent(jobId)}/events`, collection);
}
