import type { ModelInfo } from '$lib/api/types';

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

/**
 * The ONNX file at `fileUrl`: from the cache when it is there, else downloaded with progress and
 * stored, replacing any other model file.
 */
export async function loadModelBytes(
  fileUrl: string,
  onProgress?: (progress: ModelBytesProgress) => void
): Promise<{ bytes: ArrayBuffer; fromCache: boolean }> {
  const key = absolute(fileUrl);
  const cache = await openCache();
  const hit = await cache?.match(key);
  if (hit) {
    const bytes = await hit.arrayBuffer();
    onProgress?.({ phase: 'cached', loaded: bytes.byteLength, total: bytes.byteLength });
    return { bytes, fromCache: true };
  }
  const bytes = await download(key, onProgress);
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
  return { bytes, fromCache: false };
}

/** Streams the file, reporting bytes as they arrive (total from Content-Length when sent). */
async function download(
  url: string,
  onProgress?: (progress: ModelBytesProgress) => void
): Promise<ArrayBuffer> {
  const response = await fetch(url);
  if (!response.ok || !response.body) {
    throw new Error(`The server answered ${response.status} for the model file`);
  }
  const length = Number(response.headers.get('Content-Length'));
  const total = Number.isFinite(length) && length > 0 ? length : undefined;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ phase: 'download', loaded, total });
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress?.({ phase: 'download', loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes.buffer;
}
