import { isUnreachable, postJson } from '$lib/api/client';
import type { SearchHit, SearchResponse, SearchSource } from '$lib/api/types';
import { offlineIndex } from '$lib/offline/offline-index.svelte';
import { connection } from './connection.svelte';

export interface SearchOutcome {
  hits: SearchHit[];
  source: SearchSource;
  /** Time the search itself took (server-side for the server, in the worker offline). */
  tookMs: number;
}

/** Offline, and nothing saved on this device to search. */
export class NoOfflineCopyError extends Error {
  constructor() {
    super(
      'The server cannot be reached and there is no saved copy of the collection on this device: ' +
        'search needs the server.'
    );
    this.name = 'NoOfflineCopyError';
  }
}

/**
 * Searches the server with a browser-encoded vector; when the server cannot be reached, searches
 * the snapshot kept on this device instead and says where the results came from.
 */
export async function searchVector(vector: Float32Array, topK: number): Promise<SearchOutcome> {
  try {
    const response = await postJson<SearchResponse>('/api/search', {
      vector: Array.from(vector),
      topK
    });
    return { hits: response.results, source: { kind: 'server' }, tookMs: response.tookMs };
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    connection.markOffline();
    return searchOffline(vector, topK);
  }
}

async function searchOffline(vector: Float32Array, topK: number): Promise<SearchOutcome> {
  const status = offlineIndex.status;
  if (!status.available) throw new NoOfflineCopyError();
  const started = performance.now();
  const hits = await offlineIndex.search(vector, topK);
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
