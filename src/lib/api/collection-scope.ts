/**
 * Which named collection a request is about (issue 12). Pure: imported by the page, its workers
 * and the service worker.
 *
 * The server takes an optional `collection` query on every collection-scoped endpoint and treats
 * a missing one as the default collection; the page leaves it out for the default, so a page
 * with one collection makes exactly the requests it made before collections existed (and the
 * service worker's cached thumbnail URLs of the default stay valid).
 */

export const DEFAULT_COLLECTION = 'default';

/**
 * The server's rule for names (server/stores/collection-names.ts; the page may not import
 * server code): checked here only to say early what the server would refuse.
 */
export const COLLECTION_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

export function isCollectionName(value: unknown): value is string {
  return typeof value === 'string' && COLLECTION_NAME_PATTERN.test(value);
}

/** `{ collection }` for another collection, `{}` for the default: spread into a query. */
export function collectionQuery(collection: string): { collection?: string } {
  return collection === DEFAULT_COLLECTION ? {} : { collection };
}

/** `url` (a same-origin path, perhaps with a query) with `collection=` added for another collection. */
export function withCollection(url: string, collection: string): string {
  if (collection === DEFAULT_COLLECTION) return url;
  const separator = url.includes('?') ? '&' : '?';
  return `${url}${separator}collection=${encodeURIComponent(collection)}`;
}

/** The collection a same-origin URL names (`?collection=`), the default when it names none. */
export function collectionOfUrl(url: URL): string {
  const named = url.searchParams.get('collection');
  return named && isCollectionName(named) ? named : DEFAULT_COLLECTION;
}
