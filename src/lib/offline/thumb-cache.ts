/**
 * What the page and the service worker agree on about the thumbnails kept for offline results.
 * Pure: imported by both.
 *
 * A thumbnail URL names a picture by its id, and ids start again when the server's database is
 * recreated (new data folder, migration). The snapshot version, `1-<modelId>-<uuid>.<n>`, has a
 * part that changes exactly then (everything before `.<n>`: the collection's epoch), so the
 * thumbnails are cached per epoch and dropped when it changes.
 */

/** Most thumbnails kept (the service worker trims to this; the page prefetches no more). */
export const MAX_THUMBS = 2000;

export const THUMB_CACHE_PREFIX = 'lookalike-thumbs-';

export const thumbUrl = (id: number) => `/api/images/${id}/thumb`;

/** The part of a snapshot version that changes only when the server's ids start again. */
export function collectionEpoch(version: string): string {
  return version.replace(/\.\d+$/, '');
}

export function thumbCacheName(epoch: string): string {
  return `${THUMB_CACHE_PREFIX}${epoch}`;
}

/** Page → service worker messages; `collection-epoch` is answered on the transferred port. */
export type ServiceWorkerMessage =
  | { type: 'lookalike:collection-epoch'; epoch: string }
  /** The user asked for the new version now (the "Reload" button). */
  | { type: 'lookalike:skip-waiting' };
