import { getJson, isUnreachable } from '$lib/api/client';
import type { SearchHit } from '$lib/api/types';
import type { SnapshotRequest, SnapshotReply } from './snapshot-protocol';
import { readSnapshotMeta, type StoredSnapshotMeta } from './snapshot-store';

/**
 * The copy of the collection kept on this device for searching while the server cannot be
 * reached: what IndexedDB holds (reactive status), keeping it up to date with the server's
 * snapshot version, and searching it in a worker.
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

interface VersionInfo {
  version: string;
  count: number;
  modelId: string;
}

type Pending = { resolve: (reply: SnapshotReply) => void; reject: (error: Error) => void };

class OfflineIndex {
  status = $state<OfflineStatus>({ available: false, syncing: false });

  /** The model this page encodes queries with; a copy built by another cannot be searched. */
  #model: string | undefined;
  #loading: Promise<void> | undefined;
  #syncing: Promise<void> | undefined;
  #worker: Worker | undefined;
  /** The worker holds the saved copy decoded (set by a load request). */
  #workerLoaded: Promise<unknown> | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();

  /** Tells which model the page's encoder uses (ModelInfo.id). */
  useModel(modelId: string): void {
    this.#model = modelId;
  }

  /** Reads what IndexedDB holds; cheap (the description only), so safe to call more than once. */
  load(): Promise<void> {
    this.#loading ??= readSnapshotMeta()
      .then((meta) => this.#show(meta))
      .catch((error: unknown) => {
        // Private browsing or a blocked database: offline search is simply not available.
        this.status.error = `This browser cannot keep a saved copy: ${messageOf(error)}`;
      });
    return this.#loading;
  }

  /** When the server's snapshot version differs from the saved one, downloads and saves it. */
  sync(): Promise<void> {
    this.#syncing ??= this.#sync().finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  async search(vector: Float32Array, topK: number): Promise<SearchHit[]> {
    await this.load();
    if (!this.status.available) {
      throw new Error('The server cannot be reached and this device has no saved copy to search');
    }
    if (this.#model && this.status.modelId && this.status.modelId !== this.#model) {
      throw new Error(
        `The saved copy was made with model ${this.status.modelId}, but this page encodes with ` +
          `${this.#model}; it can be searched again once the server is back`
      );
    }
    this.#workerLoaded ??= this.#request({ id: 0, type: 'load' }).catch((error: unknown) => {
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
      imageUrl: `/api/images/${id}`,
      thumbUrl: `/api/images/${id}/thumb`
    }));
  }

  async #sync(): Promise<void> {
    await this.load();
    this.status.syncing = true;
    try {
      const remote = await getJson<VersionInfo>('/api/index/snapshot/version');
      if (this.#model && remote.modelId !== this.#model) {
        // The page's queries would not compare with vectors of another model.
        this.status.error = `The server's collection uses model ${remote.modelId}, not ${this.#model}; not saved for offline use`;
        return;
      }
      this.status.error = undefined;
      if (this.status.available && remote.version === this.status.version) return;
      const data = await this.#download();
      // The worker checks and stores it, and keeps it decoded for the next offline search.
      const load = this.#request({
        id: 0,
        type: 'load',
        data,
        modelId: remote.modelId,
        savedAt: Date.now()
      });
      this.#workerLoaded = load;
      const reply = await load.catch((error: unknown) => {
        this.#workerLoaded = undefined;
        throw error;
      });
      if (reply.type === 'load') this.#show(reply.meta);
    } catch (error) {
      // Offline is not a failure of the saved copy: the old one stays and is still searchable.
      if (!isUnreachable(error)) this.status.error = messageOf(error);
    } finally {
      this.status.syncing = false;
      this.status.download = undefined;
    }
  }

  /** GET /api/index/snapshot, reporting progress as the bytes arrive. */
  async #download(): Promise<ArrayBuffer> {
    const response = await fetch('/api/index/snapshot', { cache: 'no-store' });
    if (!response.ok || !response.body) {
      throw new Error(`Downloading the snapshot failed: the server answered ${response.status}`);
    }
    // A compressed response's Content-Length counts compressed bytes, not what the reader yields.
    const length = response.headers.get('content-encoding')
      ? undefined
      : Number(response.headers.get('content-length')) || undefined;
    this.status.download = { received: 0, total: length };
    const chunks: Uint8Array[] = [];
    let received = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.length;
      this.status.download = { received, total: length };
    }
    const out = new Uint8Array(received);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out.buffer;
  }

  #show(meta: StoredSnapshotMeta | undefined): void {
    this.status.available = meta !== undefined;
    this.status.version = meta?.version;
    this.status.savedAt = meta?.savedAt;
    this.status.count = meta?.count;
    this.status.modelId = meta?.modelId;
    this.status.bytes = meta?.bytes;
  }

  #request(request: SnapshotRequest): Promise<SnapshotReply & { ok: true }> {
    const worker = (this.#worker ??= this.#startWorker());
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (reply) => (reply.ok ? resolve(reply) : reject(new Error(reply.error))),
        reject
      });
      const message = { ...request, id };
      // A downloaded snapshot is handed over, not copied.
      const transfer = message.type === 'load' && message.data ? [message.data] : [];
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const offlineIndex = new OfflineIndex();
