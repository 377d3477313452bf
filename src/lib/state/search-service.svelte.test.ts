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

const { searchImage, searchVector } = await import('./search-service');
const { ServerEncodeUnreachableError } = await import('./server-encode');

let urls: string[] = [];
let bodies: { image: unknown; topK: unknown }[] = [];
beforeEach(() => {
  urls = [];
  bodies = [];
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
      if (input instanceof Request && input.method === 'POST' && url.pathname.endsWith('/image')) {
        const form = await input.formData();
        bodies.push({ image: form.get('image'), topK: form.get('topK') });
      }
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

describe('searchImage (the server encodes the picture)', () => {
  const TIFF = { kind: 'unreadable', format: 'TIFF' } as const;

  it('posts the picture and top-K as a form to the collection it is given', async () => {
    answer(results);
    const tiff = new File([new Uint8Array([0x49, 0x49, 0x2a, 0])], 'scan.tiff', {
      type: 'image/tiff'
    });
    const outcome = await searchImage(tiff, 7, 'wallpapers', TIFF);
    expect(outcome.source).toEqual({ kind: 'server' });
    expect(urls).toEqual(['/api/search/image?collection=wallpapers']);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.topK).toBe('7');
    const sent = bodies[0]!.image as File;
    expect(new Uint8Array(await sent.arrayBuffer())).toEqual(new Uint8Array([0x49, 0x49, 0x2a, 0]));
  });

  it('says the server is needed when it cannot be reached: no saved-copy fallback', async () => {
    answer(() => {
      throw new TypeError('Failed to fetch');
    });
    await expect(searchImage(new Blob(['II*']), 5, 'default', TIFF)).rejects.toBeInstanceOf(
      ServerEncodeUnreachableError
    );
    expect(offline.search).not.toHaveBeenCalled();
  });
});
