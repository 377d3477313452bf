import type { ModelInfo } from '$lib/api/types';
import { readWithProgress } from '$lib/api/download';

/**
 * The model file and the last GET /api/model answer, kept in the Cache API so a second visit
 * starts without a download and the page still knows its model when the server is unreachable.
 * One model file at a time: its key is its `fileUrl`, which carries the file's version, so a
 * changed model gets a new key and the old file is deleted.
 */
export const MODEL_CACHE_NAME = 'lookalike-model-v1';
/** Where the last /api/model answer is kept (not a URL the server answers from the cache). */
const INFO_KEY = '/__lookalike/model-info.json';

export interface ModelBytesProgress {
  phase: 'download' | 'cached';
  loaded: number;
  total?: number;
}

/** The Cache API exists only in secure contexts (https, localhost): elsewhere nothing is kept. */
async function openCache(): Promise<Cache | undefined> {
  if (typeof caches === 'undefined') return undefined;
  return caches.open(MODEL_CACHE_NAME).catch(() => undefined);
}

const absolute = (url: string) => new URL(url, location.href).href;

export async function saveModelInfo(info: ModelInfo): Promise<void> {
  const cache = await openCache();
  await cache
    ?.put(
      absolute(INFO_KEY),
      new Response(JSON.stringify(info), { headers: { 'Content-Type': 'application/json' } })
    )
    .catch(() => undefined); // a full disk only costs the offline fallback
}

export async function loadModelInfo(): Promise<ModelInfo | undefined> {
  const cache = await openCache();
  const hit = await cache?.match(absolute(INFO_KEY));
  return hit ? ((await hit.json()) as ModelInfo) : undefined;
}

/** A download in progress, shared by every caller that wants the same file meanwhile. */
interface SharedDownload {
  bytes: Promise<ArrayBuffer>;
  listeners: Set<(progress: ModelBytesProgress) => void>;
  last?: ModelBytesProgress;
  /** Callers still to take the bytes: all but the last get a copy (each may transfer its own). */
  waiting: number;
}
const downloads = new Map<string, SharedDownload>();

export interface LoadModelOptions {
  /** The manifest's `file.sha256`: checked on cached and downloaded bytes when given. */
  sha256?: string | undefined;
  onProgress?: (progress: ModelBytesProgress) => void;
  /** Skip the cache (its copy would not start): download and replace it. */
  refresh?: boolean;
}

/**
 * The ONNX file at `fileUrl`: from the cache when it is there (and matches `sha256`), else
 * downloaded with progress and stored, replacing any other model file. Callers asking for the same
 * file while it downloads (a backend switch during the first visit) share that one download.
 */
export async function loadModelBytes(
  fileUrl: string,
  options: LoadModelOptions = {}
): Promise<{ bytes: ArrayBuffer; fromCache: boolean }> {
  const { sha256, onProgress } = options;
  const key = absolute(fileUrl);
  const cache = await openCache();
  const hit = options.refresh ? undefined : await cache?.match(key);
  if (hit) {
    const bytes = await hit.arrayBuffer();
    if (await matchesSha256(bytes, sha256)) {
      onProgress?.({ phase: 'cached', loaded: bytes.byteLength, total: bytes.byteLength });
      return { bytes, fromCache: true };
    }
    await cache?.delete(key); // damaged or stale: fetch a good copy below
  }
  let shared = downloads.get(key);
  if (!shared) {
    const entry: SharedDownload = {
      listeners: new Set(),
      waiting: 0,
      bytes: Promise.resolve(new ArrayBuffer(0))
    };
    entry.bytes = downloadAndStore(key, cache, sha256, (progress) => {
      entry.last = progress;
      for (const listener of entry.listeners) listener(progress);
    }).finally(() => downloads.delete(key));
    downloads.set(key, entry);
    shared = entry;
  }
  const download = shared;
  download.waiting++;
  if (onProgress) {
    download.listeners.add(onProgress);
    if (download.last) onProgress(download.last);
  }
  try {
    const bytes = await download.bytes;
    return { bytes: --download.waiting === 0 ? bytes : bytes.slice(0), fromCache: false };
  } catch (error) {
    download.waiting--;
    throw error;
  } finally {
    if (onProgress) download.listeners.delete(onProgress);
  }
}

/** True when no checksum is published (generated models) or the bytes have it. */
export async function matchesSha256(bytes: ArrayBuffer, sha256: string | undefined) {
  // crypto.subtle exists only in secure contexts, like the Cache API itself.
  if (!sha256 || !globalThis.crypto?.subtle) return true;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  return hex === sha256.toLowerCase();
}

async function downloadAndStore(
  key: string,
  cache: Cache | undefined,
  sha256: string | undefined,
  onProgress: (progress: ModelBytesProgress) => void
): Promise<ArrayBuffer> {
  const bytes = await download(key, onProgress);
  if (!(await matchesSha256(bytes, sha256))) {
    throw new Error('the downloaded model file does not match its published SHA-256 checksum');
  }
  if (cache) {
    try {
      await cache.put(
        key,
        new Response(bytes, {
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Length': String(bytes.byteLength)
          }
        })
      );
      for (const request of await cache.keys()) {
        if (request.url !== key && request.url !== absolute(INFO_KEY)) await cache.delete(request);
      }
    } catch {
      // Out of quota: the page still works, it downloads again next time.
    }
  }
  return bytes;
}

/** Streams the file, reporting bytes as they arrive (total from Content-Length when sent). */
async function download(
  url: string,
  onProgress: (progress: ModelBytesProgress) => void
): Promise<ArrayBuffer> {
  const response = await fetch(url);
  if (!response.ok || !response.body) {
    throw new Error(`The server answered ${response.status} for the model file`);
  }
  return readWithProgress(response, (loaded, total) =>
    onProgress({ phase: 'download', loaded, total })
  );
}
