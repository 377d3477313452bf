import { api, dataOf, isUnreachable } from '$lib/api/client';
import { messageOf } from '$lib/api/collection';
import { collectionQuery, DEFAULT_COLLECTION, withCollection } from '$lib/api/collection-scope';
import type { SearchHit } from '$lib/api/types';
import { readWithProgress } from '$lib/api/download';
import type { SnapshotReply, SnapshotRequest } from './snapshot-protocol';
import { deleteSnapshot, readSnapshotMeta, type StoredSnapshotMeta } from './snapshot-store';
import { collectionEpoch, imageUrl, thumbUrl } from './thumb-cache';
import {
  forgetCollectionThumbnails,
  prefetchAllowed,
  prefetchThumbnails,
  tellCollectionEpoch
} from './thumb-prefetch';

/**
 * The copies of the collections kept on this device for searching while the server cannot be
 * reached, one per collection: what IndexedDB holds (reactive status), keeping it up to date with
 * the server's snapshot version, and searching it in a worker. `offlineIndex` answers for the
 * collection the page shows (`useCollection`); switching while offline searches that
 * collection's copy if this device saved one.
 *
 * The worker holds a decoded snapshot (tens of MB) only while it is searched offline: downloads
 * are checked and stored by a worker that is then ended, and the first offline search loads it.
 */

export interface OfflineStatus {
  /** A saved copy is on this device. */
  available: boolean;
  version?: string;
  /** When this device saved it (Unix ms). */
  savedAt?: number;
  count?: number;
  modelId?: string;
  /** Size of the saved copy in bytes. */
  bytes?: number;
  syncing: boolean;
  /** While a new copy downloads: bytes so far, and in all when the server said. */
  download?: { received: number; total?: number };
  error?: string;
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

type Pending = { resolve: (reply: SnapshotReply) => void; reject: (error: Error) => void };
type Ok<T extends SnapshotRequest['type']> = Extract<SnapshotReply, { ok: true }> & { type: T };

/** One collection's saved copy. */
class CollectionCopy {
  status = $state<OfflineStatus>({ available: false, syncing: false });
  readonly collection: string;

  /** The model this page encodes queries with; a copy built by another cannot be searched. */
  #model: string | undefined;
  #loading: Promise<void> | undefined;
  #syncing: Promise<void> | undefined;
  /** A sync asked for while one runs: it runs once more after, so no change is missed. */
  #syncAgain: Promise<void> | undefined;
  #worker: Worker | undefined;
  /** The worker holds the saved copy decoded (set by a load request). */
  #workerLoaded: Promise<unknown> | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #thumbIds: number[] = [];
  /** The saved copy whose thumbnails were fetched ahead on this page (once per version). */
  #prefetched: string | undefined;
  #prefetch: AbortController | undefined;

  constructor(collection: string) {
    this.collection = collection;
  }

  /** Tells which model the page's encoder uses for this collection (ModelInfo.id). */
  useModel(modelId: string): void {
    this.#model = modelId;
  }

  /** Reads what IndexedDB holds; cheap (the description only), so safe to call more than once. */
  load(): Promise<void> {
    this.#loading ??= readSnapshotMeta(this.collection)
      .then((meta) => this.#show(meta))
      .catch((error: unknown) => {
        // Private browsing or a blocked database: offline search is simply not available.
        this.status.error = `This browser cannot keep a saved copy: ${messageOf(error)}`;
      });
    return this.#loading;
  }

  /**
   * When the server's snapshot version differs from the saved one, downloads and saves it. Asked
   * while a sync runs, it runs once more afterwards (that one sync serving every such request):
   * the running one may have read the version just before the change that prompted the request.
   */
  sync(): Promise<void> {
    if (this.#syncing) {
      this.#syncAgain ??= this.#syncing.then(() => {
        this.#syncAgain = undefined;
        return this.sync();
      });
      return this.#syncAgain;
    }
    this.#syncing = this.#sync().finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  /** Searches the saved copy; NoOfflineCopyError when this device has none. */
  async search(vector: Float32Array, topK: number): Promise<SearchHit[]> {
    await this.load();
    const version = this.status.version;
    if (!this.status.available || version === undefined) throw new NoOfflineCopyError();
    if (this.#model && this.status.modelId && this.status.modelId !== this.#model) {
      throw new Error(
        `The saved copy was made with model ${this.status.modelId}, but this page encodes with ` +
          `${this.#model}; it can be searched again once the server is back`
      );
    }
    // Thumbnails cached for another collection epoch would show other pictures under these ids.
    void tellCollectionEpoch(collectionEpoch(version), this.collection);
    this.#workerLoaded ??= this.#request({
      id: 0,
      type: 'load',
      collection: this.collection
    }).catch((error: unknown) => {
      this.#workerLoaded = undefined;
      throw error;
    });
    await this.#workerLoaded;
    const reply = await this.#request({ id: 0, type: 'search', vector, topK });
    if (reply.type !== 'search') throw new Error('Unexpected reply from the search worker');
    return reply.hits.map(({ id, path, score, width, height }) => ({
      id,
      path,
      score,
      width,
      height,
      // The URLs the server's own answers carry, so the service worker's copies match.
      imageUrl: imageUrl(id, this.collection),
      thumbUrl: thumbUrl(id, this.collection)
    }));
  }

  async #sync(): Promise<void> {
    await this.load();
    this.status.syncing = true;
    try {
      const params = { query: collectionQuery(this.collection) };
      const remote = dataOf(await api.GET('/api/index/snapshot/version', { params }));
      // The server answers: searches go there, the decoded copy need not stay in memory.
      this.release();
      await tellCollectionEpoch(collectionEpoch(remote.version), this.collection);
      if (this.#model && remote.modelId !== this.#model) {
        // The page's queries would not compare with vectors of another model.
        this.status.error = `The server's collection uses model ${remote.modelId}, not ${this.#model}; not saved for offline use`;
        return;
      }
      this.status.error = undefined;
      if (!this.status.available || remote.version !== this.status.version) {
        await this.#replace(remote.modelId);
      }
      this.#prefetchThumbnails();
    } catch (error) {
      // Offline is not a failure of the saved copy: the old one stays and is still searchable.
      if (!isUnreachable(error)) this.status.error = messageOf(error);
    } finally {
      this.status.syncing = false;
      this.status.download = undefined;
    }
  }

  /** Downloads the server's snapshot; a worker checks and stores it, and is then ended. */
  async #replace(modelId: string): Promise<void> {
    const data = await this.#download(this.status.available ? this.status.version : undefined);
    if (!data) return; // 304: what is saved is already current
    try {
      const reply = await this.#request({
        id: 0,
        type: 'store',
        collection: this.collection,
        data,
        modelId,
        savedAt: Date.now()
      });
      this.#show(reply.meta);
    } finally {
      this.release();
    }
  }

  /** GET /api/index/snapshot, reporting progress as the bytes arrive; undefined on 304. */
  async #download(saved: string | undefined): Promise<ArrayBuffer | undefined> {
    const response = await fetch(withCollection('/api/index/snapshot', this.collection), {
      cache: 'no-store',
      headers: saved ? { 'if-none-match': `"${saved}"` } : {}
    });
    if (response.status === 304) return undefined;
    if (!response.ok || !response.body) {
      throw new Error(`Downloading the snapshot failed: the server answered ${response.status}`);
    }
    return readWithProgress(response, (received, total) => {
      this.status.download = { received, total };
    });
  }

  /** In the background, once per saved version: thumbnails for the results found offline. */
  #prefetchThumbnails(): void {
    const version = this.status.version;
    if (!this.status.available || !version || this.#prefetched === version) return;
    if (!prefetchAllowed()) return;
    this.#prefetch?.abort();
    const controller = (this.#prefetch = new AbortController());
    this.#prefetched = version;
    const epoch = collectionEpoch(version);
    prefetchThumbnails(this.#thumbIds, epoch, this.collection, controller.signal).catch(() => {
      this.#prefetched = undefined; // e.g. no Cache API: try again after the next sync
    });
  }

  #show(meta: StoredSnapshotMeta | undefined): void {
    this.status.available = meta !== undefined;
    this.status.version = meta?.version;
    this.status.savedAt = meta?.savedAt;
    this.status.count = meta?.count;
    this.status.modelId = meta?.modelId;
    this.status.bytes = meta?.bytes;
    this.#thumbIds = meta?.thumbIds ?? [];
  }

  /** Stops fetching thumbnails ahead (another collection is shown, or this one was deleted). */
  stopPrefetch(): void {
    this.#prefetch?.abort();
    this.#prefetched = undefined;
  }

  /** Ends the worker, and with it the decoded snapshot it may hold, unless it is busy. */
  release(): void {
    if (!this.#worker || this.#pending.size > 0) return;
    this.#worker.terminate();
    this.#worker = undefined;
    this.#workerLoaded = undefined;
  }

  #request<T extends SnapshotRequest['type']>(
    request: SnapshotRequest & { type: T }
  ): Promise<Ok<T>> {
    const worker = (this.#worker ??= this.#startWorker());
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (reply) => (reply.ok ? resolve(reply as Ok<T>) : reject(new Error(reply.error))),
        reject
      });
      const message: SnapshotRequest = { ...request, id };
      // A downloaded snapshot is handed over, not copied.
      const transfer = message.type === 'store' ? [message.data] : [];
      worker.postMessage(message, transfer);
    });
  }

  #startWorker(): Worker {
    const worker = new Worker(new URL('./snapshot-search.worker.ts', import.meta.url), {
      type: 'module'
    });
    worker.onmessage = (event: MessageEvent<SnapshotReply>) => {
      const pending = this.#pending.get(event.data.id);
      this.#pending.delete(event.data.id);
      pending?.resolve(event.data);
    };
    worker.onerror = (event) => {
      // The worker itself failed (it could not start): fail everything waiting, start afresh next time.
      const error = new Error(`The offline search worker failed: ${event.message}`);
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
      this.#worker = undefined;
      this.#workerLoaded = undefined;
    };
    return worker;
  }
}

/**
 * The saved copy of the collection the page shows. Each collection keeps its own copy (and its
 * own sync, worker and thumbnails); switching hands the page another one, and the one left is
 * not kept decoded in memory.
 */
class OfflineIndex {
  #current = $state.raw(new CollectionCopy(DEFAULT_COLLECTION));
  readonly #copies = new Map<string, CollectionCopy>([[DEFAULT_COLLECTION, this.#current]]);
  #listening = false;

  get collection(): string {
    return this.#current.collection;
  }

  get status(): OfflineStatus {
    return this.#current.status;
  }

  /** The page shows `collection` now: status, sync and search are its copy's. */
  useCollection(collection: string): void {
    const previous = this.#current;
    if (previous.collection === collection) return;
    previous.stopPrefetch();
    previous.release();
    this.#current = this.#copy(collection);
  }

  /** Tells which model the page's encoder uses for `collection` (ModelInfo.id). */
  useModel(modelId: string, collection: string = this.collection): void {
    this.#copy(collection).useModel(modelId);
  }

  load(): Promise<void> {
    this.#listen();
    return this.#current.load();
  }

  sync(): Promise<void> {
    this.#listen();
    return this.#current.sync();
  }

  search(vector: Float32Array, topK: number): Promise<SearchHit[]> {
    return this.#current.search(vector, topK);
  }

  /**
   * The collection was deleted on the server: its saved copy and thumbnails go from this device
   * (a new collection of that name starts with nothing saved).
   */
  async forget(collection: string): Promise<void> {
    const copy = this.#copies.get(collection);
    copy?.stopPrefetch();
    copy?.release();
    this.#copies.delete(collection);
    await Promise.all([
      deleteSnapshot(collection).catch(() => undefined),
      forgetCollectionThumbnails(collection)
    ]);
    // Normally the page has switched away first; if not, it shows an empty copy, not a deleted one.
    if (this.#current === copy) this.#current = this.#copy(collection);
  }

  #copy(collection: string): CollectionCopy {
    let copy = this.#copies.get(collection);
    if (!copy) {
      copy = new CollectionCopy(collection);
      this.#copies.set(collection, copy);
    }
    return copy;
  }

  /**
   * On a first visit the service worker takes control after the first sync: sync again then, so
   * it learns the collection's epoch and the thumbnails are fetched ahead through it.
   */
  #listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    globalThis.navigator?.serviceWorker?.addEventListener('controllerchange', () => {
      if (navigator.serviceWorker.controller) void this.#current.sync();
    });
  }
}

export const offlineIndex = new OfflineIndex();
