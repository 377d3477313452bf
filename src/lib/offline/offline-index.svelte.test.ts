import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SnapshotReply, SnapshotRequest } from './snapshot-protocol';
import type { StoredSnapshotMeta } from './snapshot-store';

/** offline-index against a fake server, a fake IndexedDB description and a fake worker. */

/** What IndexedDB holds, per collection ('default' unless a test names another). */
const store = vi.hoisted(() => ({
  meta: undefined as StoredSnapshotMeta | undefined,
  byCollection: new Map<string, StoredSnapshotMeta>(),
  deleted: [] as string[]
}));
vi.mock('./snapshot-store', () => ({
  readSnapshotMeta: async (collection: string) =>
    collection === 'default' ? store.meta : store.byCollection.get(collection),
  deleteSnapshot: async (collection: string) => void store.deleted.push(collection)
}));
const prefetch = vi.hoisted(() => ({
  prefetchAllowed: () => true,
  prefetchThumbnails: vi.fn(async () => 0),
  tellCollectionEpoch: vi.fn(async () => {}),
  forgetCollectionThumbnails: vi.fn(async () => {})
}));
vi.mock('./thumb-prefetch', () => prefetch);

const META: StoredSnapshotMeta = {
  version: '1-resnet50-aaaa.4',
  savedAt: 1_700_000_000_000,
  count: 2,
  modelId: 'resnet50',
  bytes: 100,
  thumbIds: [1, 2]
};

/** Answers store/load requests like the real worker; records what it was sent. */
class FakeWorker {
  static instances: FakeWorker[] = [];
  onmessage: ((event: MessageEvent<SnapshotReply>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  requests: SnapshotRequest[] = [];
  terminated = false;
  constructor() {
    FakeWorker.instances.push(this);
  }
  postMessage(request: SnapshotRequest) {
    this.requests.push(request);
    const reply: SnapshotReply =
      request.type === 'search'
        ? { id: request.id, ok: true, type: 'search', hits: [] }
        : {
            id: request.id,
            ok: true,
            type: request.type,
            meta: {
              ...META,
              version: `fresh-${request.collection}`,
              ...(request.type === 'store' && request.modelId ? { modelId: request.modelId } : {})
            }
          };
    queueMicrotask(() => this.onmessage?.(new MessageEvent('message', { data: reply })));
  }
  terminate() {
    this.terminated = true;
  }
}

const json = (body: unknown) =>
  new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
/** The page's typed client (openapi-fetch) passes a Request; plain fetches pass the URL. */
const urlOf = (input: RequestInfo | URL) => (input instanceof Request ? input.url : String(input));

async function freshIndex() {
  vi.resetModules();
  return import('./offline-index.svelte');
}

beforeEach(() => {
  store.meta = undefined;
  store.byCollection.clear();
  store.deleted = [];
  FakeWorker.instances = [];
  prefetch.prefetchThumbnails.mockClear();
  prefetch.tellCollectionEpoch.mockClear();
  vi.stubGlobal('Worker', FakeWorker);
});
afterEach(() => vi.unstubAllGlobals());

describe('offlineIndex', () => {
  it('search() reads what is saved first, and says clearly when there is nothing', async () => {
    const { offlineIndex, NoOfflineCopyError } = await freshIndex();
    // Not loaded yet: search itself waits for the saved description.
    await expect(offlineIndex.search(new Float32Array(4), 10)).rejects.toBeInstanceOf(
      NoOfflineCopyError
    );
    expect(FakeWorker.instances).toHaveLength(0);
  });

  it('search() loads the saved copy lazily, on the first offline search', async () => {
    store.meta = META;
    const { offlineIndex } = await freshIndex();
    await offlineIndex.load();
    expect(FakeWorker.instances).toHaveLength(0);
    await offlineIndex.search(new Float32Array(4), 10);
    expect(FakeWorker.instances[0]!.requests.map((r) => r.type)).toEqual(['load', 'search']);
    expect(prefetch.tellCollectionEpoch).toHaveBeenCalledWith('1-resnet50-aaaa', 'default');
  });

  it('a sync asked for while one runs runs once more afterwards', async () => {
    store.meta = META;
    const releases: (() => void)[] = [];
    const versions = vi.fn(
      () =>
        new Promise<Response>((resolve) =>
          releases.push(() => resolve(json({ ...META, count: 2 })))
        )
    );
    vi.stubGlobal('fetch', versions);
    const { offlineIndex } = await freshIndex();
    const first = offlineIndex.sync();
    await vi.waitFor(() => expect(versions).toHaveBeenCalledTimes(1));
    // The collection changes (a job ended) while the first sync reads the version.
    const second = offlineIndex.sync();
    const third = offlineIndex.sync();
    releases.shift()!();
    await first;
    await vi.waitFor(() => expect(versions).toHaveBeenCalledTimes(2));
    releases.shift()!();
    await Promise.all([second, third]);
    expect(versions).toHaveBeenCalledTimes(2); // the two requests share the one re-run
  });

  it('downloads with If-None-Match, stores through a worker that is then ended', async () => {
    store.meta = META;
    const calls: { url: string; ifNoneMatch: string | null }[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = urlOf(input);
        calls.push({ url, ifNoneMatch: new Headers(init?.headers).get('if-none-match') });
        if (url.endsWith('/version')) {
          return json({ version: '1-resnet50-aaaa.5', count: 3, modelId: 'resnet50' });
        }
        return new Response(new Uint8Array([1, 2, 3]), { status: 200 });
      })
    );
    const { offlineIndex } = await freshIndex();
    offlineIndex.useModel('resnet50');
    await offlineIndex.sync();
    expect(calls[1]).toEqual({
      url: '/api/index/snapshot',
      ifNoneMatch: '"1-resnet50-aaaa.4"'
    });
    const worker = FakeWorker.instances[0]!;
    expect(worker.requests.map((r) => r.type)).toEqual(['store']);
    expect(worker.terminated).toBe(true);
    expect(offlineIndex.status.version).toBe('fresh-default');
    expect(prefetch.tellCollectionEpoch).toHaveBeenCalledWith('1-resnet50-aaaa', 'default');
    expect(prefetch.prefetchThumbnails).toHaveBeenCalledTimes(1);
  });

  it('keeps the saved copy when the server answers 304', async () => {
    store.meta = META;
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: RequestInfo | URL) =>
        urlOf(input).endsWith('/version')
          ? json({ version: '1-resnet50-aaaa.5', count: 3, modelId: 'resnet50' })
          : new Response(null, { status: 304 })
      )
    );
    const { offlineIndex } = await freshIndex();
    await offlineIndex.sync();
    expect(FakeWorker.instances).toHaveLength(0);
    expect(offlineIndex.status.version).toBe(META.version);
    expect(offlineIndex.status.error).toBeUndefined();
  });

  it("keeps each collection's copy apart: its requests, its IndexedDB, its thumbnails", async () => {
    store.meta = META;
    const calls: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: RequestInfo | URL) => {
        const url = urlOf(input).replace(/^http:\/\/localhost(:\d+)?/, '');
        calls.push(url);
        if (url.includes('/version')) {
          return json({ version: '1-tiny-bbbb.2', count: 5, modelId: 'tiny' });
        }
        return new Response(new Uint8Array([1, 2, 3]), { status: 200 });
      })
    );
    const { offlineIndex } = await freshIndex();
    await offlineIndex.load();
    expect(offlineIndex.status.version).toBe(META.version);

    offlineIndex.useCollection('wallpapers');
    offlineIndex.useModel('tiny', 'wallpapers');
    // Nothing saved for it: the default's copy is not shown as its own.
    await offlineIndex.load();
    expect(offlineIndex.collection).toBe('wallpapers');
    expect(offlineIndex.status.available).toBe(false);

    await offlineIndex.sync();
    expect(calls).toEqual([
      '/api/index/snapshot/version?collection=wallpapers',
      '/api/index/snapshot?collection=wallpapers'
    ]);
    const stored = FakeWorker.instances[0]!.requests[0]!;
    expect(stored).toMatchObject({ type: 'store', collection: 'wallpapers', modelId: 'tiny' });
    expect(offlineIndex.status.version).toBe('fresh-wallpapers');
    expect(prefetch.tellCollectionEpoch).toHaveBeenCalledWith('1-tiny-bbbb', 'wallpapers');
    expect(prefetch.prefetchThumbnails).toHaveBeenCalledWith(
      META.thumbIds,
      'fresh-wallpapers',
      'wallpapers',
      expect.anything()
    );

    // Offline, its search loads its own copy, and the results' URLs name it.
    const hits = await offlineIndex.search(new Float32Array(4), 10);
    expect(hits).toEqual([]);
    const worker = FakeWorker.instances.at(-1)!;
    expect(worker.requests.map((r) => [r.type, 'collection' in r ? r.collection : ''])).toEqual([
      ['load', 'wallpapers'],
      ['search', '']
    ]);

    // Back to the default: its own copy, untouched.
    offlineIndex.useCollection('default');
    expect(offlineIndex.status.version).toBe(META.version);
  });

  it('builds offline results with the URLs the server gives for that collection', async () => {
    store.byCollection.set('wallpapers', { ...META, modelId: 'tiny' });
    const { offlineIndex } = await freshIndex();
    offlineIndex.useCollection('wallpapers');
    const realPost = FakeWorker.prototype.postMessage;
    FakeWorker.prototype.postMessage = function (this: FakeWorker, request: SnapshotRequest) {
      if (request.type !== 'search') return realPost.call(this, request);
      this.requests.push(request);
      const hits = [{ index: 0, id: 7, path: '/w/7.jpg', score: 0.9, width: 4, height: 3 }];
      const reply: SnapshotReply = { id: request.id, ok: true, type: 'search', hits };
      queueMicrotask(() => this.onmessage?.(new MessageEvent('message', { data: reply })));
    };
    try {
      const [hit] = await offlineIndex.search(new Float32Array(4), 1);
      expect(hit).toMatchObject({
        id: 7,
        imageUrl: '/api/images/7?collection=wallpapers',
        thumbUrl: '/api/images/7/thumb?collection=wallpapers'
      });
    } finally {
      FakeWorker.prototype.postMessage = realPost;
    }
  });

  it('forgets a deleted collection: its saved copy and its thumbnails', async () => {
    const { offlineIndex } = await freshIndex();
    offlineIndex.useCollection('wallpapers');
    offlineIndex.useCollection('default');
    await offlineIndex.forget('wallpapers');
    expect(store.deleted).toEqual(['wallpapers']);
    expect(prefetch.forgetCollectionThumbnails).toHaveBeenCalledWith('wallpapers');
    expect(offlineIndex.collection).toBe('default');
  });
});
