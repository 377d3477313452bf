import { DEFAULT_COLLECTION } from '$lib/api/collection-scope';
import { MAX_THUMBS, thumbCacheName, thumbUrl, type ServiceWorkerMessage } from './thumb-cache';

/**
 * The page's side of the thumbnail cache: telling the service worker which epoch of a collection
 * the page shows (it drops that collection's thumbnails of another epoch), and fetching
 * thumbnails ahead so results found offline have pictures. The fetches go through the service worker, which stores them.
 */

/** Thumbnails fetched at once: enough to be quick, few enough not to crowd out searches. */
const PARALLEL = 4;
const ACK_TIMEOUT_MS = 3000;

interface NetworkInformationLike {
  saveData?: boolean;
  type?: string;
  effectiveType?: string;
}

function controller(): ServiceWorker | undefined {
  return globalThis.navigator?.serviceWorker?.controller ?? undefined;
}

/** Resolves once the service worker uses `epoch` for `collection` (or did not answer in time). */
export function tellCollectionEpoch(epoch: string, collection: string): Promise<void> {
  const message: ServiceWorkerMessage =
    collection === DEFAULT_COLLECTION
      ? { type: 'lookalike:collection-epoch', epoch }
      : { type: 'lookalike:collection-epoch', epoch, collection };
  return askServiceWorker(message);
}

/** The collection was deleted: the service worker drops its thumbnails. */
export function forgetCollectionThumbnails(collection: string): Promise<void> {
  return askServiceWorker({ type: 'lookalike:forget-collection', collection });
}

/** Posts `message` with a reply port; resolves at the answer, or after ACK_TIMEOUT_MS. */
function askServiceWorker(message: ServiceWorkerMessage): Promise<void> {
  const worker = controller();
  if (!worker) return Promise.resolve();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(done, ACK_TIMEOUT_MS);
    function done() {
      clearTimeout(timer);
      channel.port1.close();
      resolve();
    }
    channel.port1.onmessage = done;
    worker.postMessage(message, [channel.port2]);
  });
}

/** Not on a connection the user pays for, asked to spare, or too slow to be worth it. */
export function prefetchAllowed(): boolean {
  const nav = globalThis.navigator as
    (Navigator & { connection?: NetworkInformationLike }) | undefined;
  if (!nav || nav.onLine === false || !controller()) return false;
  const connection = nav.connection;
  if (!connection) return true;
  if (connection.saveData || connection.type === 'cellular') return false;
  return !['slow-2g', '2g'].includes(connection.effectiveType ?? '');
}

/**
 * Fetches the thumbnails of `ids` (the first MAX_THUMBS) that the cache of `collection` at
 * `epoch` lacks, a few at a time; stops at the first network failure (the server went away) and
 * then rejects, so the caller knows to try again. Returns how many it fetched.
 */
export async function prefetchThumbnails(
  ids: readonly number[],
  epoch: string,
  collection: string,
  signal?: AbortSignal
): Promise<number> {
  if (!prefetchAllowed()) return 0;
  const cache = await caches.open(thumbCacheName(epoch, collection));
  const cached = new Set(
    (await cache.keys()).map((request) => {
      const url = new URL(request.url);
      return url.pathname + url.search;
    })
  );
  const missing = ids
    .slice(0, MAX_THUMBS)
    .map((id) => thumbUrl(id, collection))
    .filter((url) => !cached.has(url));
  let fetched = 0;
  let failed = false;
  const next = async (): Promise<void> => {
    for (let url = missing.shift(); url && !failed && !signal?.aborted; url = missing.shift()) {
      try {
        const response = await fetch(url, { signal });
        await response.arrayBuffer(); // read to the end, so the worker's copy is complete
        if (response.ok) fetched++;
      } catch {
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, next));
  // Cut short (the server went away): the caller tries again after its next sync.
  if (failed) throw new Error(`Thumbnail prefetch stopped after ${fetched}`);
  return fetched;
}
