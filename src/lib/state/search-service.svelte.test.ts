import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/** searchVector with a fake server and saved copy: which collection it asks, and falls back to. */

const offline = vi.hoisted(() => ({
  collection: 'default',
  status: { available: true, version: 'v', savedAt: 1, count: 2 },
  search: vi.fn(async () => [])
}));
vi.mock('$lib/offline/offline-index.svelte', () => ({
  offlineIndex: offline,
  NoOfflineCopyError: class extends Error {}
}));
vi.mock('./connection.svelte', () => ({ connection: { markOffline: vi.fn() } }));

const { searchVector } = await import('./search-service');

let urls: string[] = [];
beforeEach(() => {
  urls = [];
  offline.collection = 'default';
  offline.search.mockClear();
});
afterEach(() => vi.unstubAllGlobals());

function answer(respond: () => Response) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      urls.push(url.pathname + url.search);
      return respond();
    })
  );
}
const results = () =>
  new Response(JSON.stringify({ results: [], tookMs: 1 }), {
    headers: { 'content-type': 'application/json' }
  });

describe('searchVector', () => {
  it('searches the collection it is given; the default without a query, as before', async () => {
    answer(results);
    await searchVector(new Float32Array([1, 0]), 5, 'wallpapers');
    await searchVector(new Float32Array([1, 0]), 5, 'default');
    expect(urls).toEqual(['/api/search?collection=wallpapers', '/api/search']);
  });

  it('falls back to the saved copy of the same collection only', async () => {
    answer(() => {
      throw new TypeError('Failed to fetch');
    });
    offline.collection = 'wallpapers';
    const outcome = await searchVector(new Float32Array([1, 0]), 5, 'wallpapers');
    expect(outcome.source.kind).toBe('offline');
    // A search begun for another collection never answers from this one's copy.
    await expect(searchVector(new Float32Array([1, 0]), 5, 'default')).rejects.toThrow(
      /collection changed/
    );
    expect(offline.search).toHaveBeenCalledTimes(1);
  });
});
