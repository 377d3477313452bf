import { DEFAULT_COLLECTION } from '$lib/api/collection-scope';
import type { ModelInfo } from '$lib/api/types';
import { readWithProgress } from '$lib/api/download';

/**
 * The model files and each collection's last GET /api/model answer, kept in the Cache API so a
 * second visit starts without a download and the page still knows a collection's model when the
 * server is unreachable. Collections may use different models, so files are kept by model id
 * and version (`modelFileKey`), as many as the saved answers name: switching between a ResNet-50
 * and an EfficientNet-Lite0 collection downloads each once. A file no saved answer names any
 * more (a new version, a deleted collection) is deleted.
 */
export const MODEL_CACHE_NAME = 'lookalike-model-v1';
/** Where the answers are kept (not URLs the server answers from the cache). */
const INFO_PREFIX = '/__lookalike/model-info';
/** Model files are kept under the default's file URL as it always was, with the model id added. */
const FILE_PATH = '/api/model/file';

/** Cache key of a collection's last /api/model answer; the default keeps its pre-collections key. */
export function modelInfoKey(collection: string): string {
  return collection === DEFAULT_COLLECTION
    ? `${INFO_PREFIX}.json`
    : `${INFO_PREFIX}.json?collection=${encodeURIComponent(collection)}`;
}

/**
 * The file's version: its SHA-256 when published, else the `v` its URL carries (size and mtime
 * on the server), else the URL itself. Never the collection: collections of one model share it.
 */
export function modelFileVersion(info: Pick<ModelInfo, 'fileUrl' | 'fileSha256'>): string {
  if (info.fileSha256) return info.fileSha256.toLowerCase();
  const v = new URL(info.fileUrl, 'http://x').searchParams.get('v');
  return v ?? info.fileUrl;
}

/** Cache key of a model file: one per model id and version, whichever collection asked. */
export function modelFileKey(info: Pick<ModelInfo, 'id' | 'fileUrl' | 'fileSha256'>): string {
  const query = new URLSearchParams({ v: modelFileVersion(info), model: info.id });
  return `${FILE_PATH}?${query}`;
}

/** Two answers name the same file: switching between their collections loads nothing. */
export function sameModelFile(
  a: Pick<ModelInfo, 'id' | 'fileUrl' | 'fileSha256'>,
  b: Pick<ModelInfo, 'id' | 'fileUrl' | 'fileSha256'>
): boolean {
  return modelFileKey(a) === modelFileKey(b);
}

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

/** Files stored by this page and not yet named by a saved answer: pruning keeps them. */
const storedThisVisit = new Set<string>();

/**
 * Keeps `info` as the collection's model for offline use (once its file is cached), then deletes
 * the files no collection's saved answer names any more.
 */
export async function saveModelInfo(
  info: ModelInfo,
  collection: string = DEFAULT_COLLECTION
): Promise<void> {
  const cache = await openCache();
  if (!cache) return;
  try {
    await cache.put(
      absolute(modelInfoKey(collection)),
      new Response(JSON.stringify(info), { headers: { 'Content-Type': 'application/json' } })
    );
    storedThisVisit.delete(absolute(modelFileKey(info)));
    await pruneModelFiles(cache);
  } catch {
    // a full disk only costs the offline fallback
  }
}

export async function loadModelInfo(
  collection: string = DEFAULT_COLLECTION
): Promise<ModelInfo | undefined> {
  const cache = await openCache();
  const hit = await cache?.match(absolute(modelInfoKey(collection)));
  return hit ? ((await hit.json()) as ModelInfo) : undefined;
}

/** The collection was deleted: this device no longer needs its model (unless another uses it). */
export async function forgetModelInfo(collection: string): Promise<void> {
  const cache = await openCache();
  if (!cache) return;
  await cache.delete(absolute(modelInfoKey(collection))).catch(() => false);
  await pruneModelFiles(cache).catch(() => undefined);
}

/** Deletes model files that no saved answer names, nor a download of this visit. */
async function pruneModelFiles(cache: Cache): Promise<void> {
  const keys = await cache.keys();
  const infoPath = new URL(absolute(`${INFO_PREFIX}.json`)).pathname;
  const wanted = new Set(storedThisVisit);
  for (const request of keys) {
    if (new URL(request.url).pathname !== infoPath) continue;
    const saved = await cache.match(request);
    const info = saved
      ? ((await saved.json().catch(() => undefined)) as ModelInfo | undefined)
      : undefined;
    if (info?.fileUrl) wanted.add(absolute(modelFileKey(info)));
  }
  for (const request of keys) {
    if (new URL(request.url).pathname === infoPath) continue;
    if (!wanted.has(request.url) && !downloads.has(request.url)) await cache.delete(request);
  }
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
 * The model's ONNX file: from the cache when it is there (and matches `sha256`), else downloaded
 * from `info.fileUrl` with progress and stored under its model id and version. Callers asking
 * for the same file while it downloads (a backend switch during the first visit, two collections
 * of one model) share that one download.
 */
export async function loadModelBytes(
  info: Pick<ModelInfo, 'id' | 'fileUrl' | 'fileSha256'>,
  options: LoadModelOptions = {}
): Promise<{ bytes: ArrayBuffer; fromCache: boolean }> {
  const { sha256, onProgress } = options;
  const key = absolute(modelFileKey(info));
  const url = absolute(info.fileUrl);
  const cache = await openCache();
  const hit =
    options.refresh || !cache
      ? undefined
      : ((await cache.match(key)) ?? (await fromLegacyKey(cache, url, key)));
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
    entry.bytes = downloadAndStore(url, key, cache, sha256, (progress) => {
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

/**
 * Before collections a file was kept under its URL, which carries the same version: it is moved
 * to its key rather than downloaded again (ResNet-50 is 94 MB).
 */
async function fromLegacyKey(cache: Cache, url: string, key: string) {
  const old = await cache.match(url).catch(() => undefined);
  if (!old) return undefined;
  try {
    await cache.put(key, old.clone());
    storedThisVisit.add(key);
    await cache.delete(url);
  } catch {
    // Not moved (out of quota): it is still good for this start.
  }
  return old;
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
  url: string,
  key: string,
  cache: Cache | undefined,
  sha256: string | undefined,
  onProgress: (progress: ModelBytesProgress) => void
): Promise<ArrayBuffer> {
  const bytes = await download(url, onProgress);
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
      // Kept until its collection's answer is saved (once a session has started on it).
      storedThisVisit.add(key);
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
