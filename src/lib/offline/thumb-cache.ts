import { DEFAULT_COLLECTION, withCollection } from '$lib/api/collection-scope';

/**
 * What the page and the service worker agree on about the thumbnails kept for offline results.
 * Pure: imported by both.
 *
 * A thumbnail URL names a picture by its id (and its collection, `?collection=` for any but the
 * default), and ids start again when the server's database is recreated (new data folder,
 * migration). The snapshot version, `1-<modelId>-<uuid>.<n>`, has a part that changes exactly
 * then (everything before `.<n>`: the collection's epoch), so the thumbnails are cached per
 * collection and epoch, and a collection's old epochs are dropped when its epoch changes. One
 * collection's cache never answers for another's: the name says whose it is.
 */

/** Most thumbnails kept per collection (the service worker trims to this; the page fetches no more). */
export const MAX_THUMBS = 2000;

/** The default collection's caches: `lookalike-thumbs-<epoch>`, as before collections existed. */
export const THUMB_CACHE_PREFIX = 'lookalike-thumbs-';
/** Another collection's: `lookalike-thumbs:<collection>:<epoch>` (neither part holds a colon). */
const NAMED_THUMB_CACHE_PREFIX = 'lookalike-thumbs:';

export const thumbUrl = (id: number, collection: string = DEFAULT_COLLECTION) =>
  withCollection(`/api/images/${id}/thumb`, collection);

export const imageUrl = (id: number, collection: string = DEFAULT_COLLECTION) =>
  withCollection(`/api/images/${id}`, collection);

/** The part of a snapshot version that changes only when the server's ids start again. */
export function collectionEpoch(version: string): string {
  return version.replace(/\.\d+$/, '');
}

export function thumbCacheName(epoch: string, collection: string = DEFAULT_COLLECTION): string {
  return collection === DEFAULT_COLLECTION
    ? `${THUMB_CACHE_PREFIX}${epoch}`
    : `${NAMED_THUMB_CACHE_PREFIX}${collection}:${epoch}`;
}

/** Whose thumbnails a cache holds, or undefined when it is not a thumbnail cache. */
export function thumbCacheCollection(cacheName: string): string | undefined {
  if (cacheName.startsWith(THUMB_CACHE_PREFIX)) return DEFAULT_COLLECTION;
  if (!cacheName.startsWith(NAMED_THUMB_CACHE_PREFIX)) return undefined;
  const rest = cacheName.slice(NAMED_THUMB_CACHE_PREFIX.length);
  const end = rest.indexOf(':');
  return end > 0 ? rest.slice(0, end) : undefined;
}

/** Page → service worker messages; the collection ones are answered on the transferred port. */
export type ServiceWorkerMessage =
  /** The page shows `collection` at `epoch` (no collection: the default, as older pages sent). */
  | { type: 'lookalike:collection-epoch'; epoch: string; collection?: string }
  /** The collection was deleted: its thumbnails go. */
  | { type: 'lookalike:forget-collection'; collection: string }
  /** The user asked for the new version now (the "Reload" button). */
  | { type: 'lookalike:skip-waiting' };
