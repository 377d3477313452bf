import { api, ApiRequestError, dataOf, isUnreachable } from '$lib/api/client';
import { collectionQuery } from '$lib/api/collection-scope';
import type { SearchHit, SearchSource } from '$lib/api/types';
import { offlineIndex } from '$lib/offline/offline-index.svelte';
import { connection } from './connection.svelte';
import { ServerEncodeUnreachableError, type ServerEncodeReason } from './server-encode';

export interface SearchOutcome {
  hits: SearchHit[];
  source: SearchSource;
  /** Time the search itself took (server-side for the server, in the worker offline). */
  tookMs: number;
}

export { NoOfflineCopyError } from '$lib/offline/offline-index.svelte';

/**
 * Searches `collection` on the server with a browser-encoded vector; when the server cannot be
 * reached, searches the snapshot of it kept on this device instead and says where the results
 * came from.
 */
export async function searchVector(
  vector: Float32Array,
  topK: number,
  collection: string
): Promise<SearchOutcome> {
  try {
    const body = { vector: Array.from(vector), topK };
    const params = { query: collectionQuery(collection) };
    const response = dataOf(await api.POST('/api/search', { params, body }));
    return { hits: response.results, source: { kind: 'server' }, tookMs: response.tookMs };
  } catch (error) {
    if (isUnreachable(error)) {
      connection.markOffline();
      return searchOffline(vector, topK, collection);
    }
    // The server is there but its store is down (its own 503): the saved copy can still answer,
    // without calling the whole page offline.
    if (
      error instanceof ApiRequestError &&
      error.status === 503 &&
      offlineIndex.collection === collection &&
      offlineIndex.status.available
    ) {
      return searchOffline(vector, topK, collection);
    }
    throw error;
  }
}

async function searchOffline(
  vector: Float32Array,
  topK: number,
  collection: string
): Promise<SearchOutcome> {
  // The page switches the saved copy with the collection; a search begun before a switch must
  // not answer from the other collection's copy.
  if (offlineIndex.collection !== collection) {
    throw new Error(`The collection changed to ${offlineIndex.collection} during the search`);
  }
  const started = performance.now();
  // Throws NoOfflineCopyError when this device has no saved copy (it waits for the copy to load).
  const hits = await offlineIndex.search(vector, topK);
  const status = offlineIndex.status;
  return {
    hits,
    source: {
      kind: 'offline',
      snapshotVersion: status.version ?? '',
      savedAt: status.savedAt ?? 0,
      count: status.count ?? 0
    },
    tookMs: performance.now() - started
  };
}

/**
 * Searches `collection` with a picture the server encodes (POST /api/search/image): for pictures
 * the browser cannot decode (`reason`). There is no offline fallback: without the server there is
 * no vector to search the saved copy with.
 */
export async function searchImage(
  image: Blob,
  topK: number,
  collection: string,
  reason: ServerEncodeReason
): Promise<SearchOutcome> {
  try {
    const form = new FormData();
    // A File's own name (duck-typed: File classes differ between realms), else a neutral one.
    const name = 'name' in image && typeof image.name === 'string' && image.name ? image.name : '';
    form.append('image', image, name || 'picture');
    form.append('topK', String(topK));
    const response = dataOf(
      await api.POST('/api/search/image', {
        params: { query: collectionQuery(collection) },
        // The document types the file part as a string (binary); the body sent is the form.
        body: { image: '', topK },
        bodySerializer: () => form
      })
    );
    return { hits: response.results, source: { kind: 'server' }, tookMs: response.tookMs };
  } catch (error) {
    if (isUnreachable(error)) {
      connection.markOffline();
      throw new ServerEncodeUnreachableError(reason);
    }
    throw error;
  }
}
