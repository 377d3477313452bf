import type { CollectionSummary } from '$lib/api/collection';
import { DEFAULT_COLLECTION, isCollectionName } from '$lib/api/collection-scope';

/**
 * Which collection the page shows, remembered two ways: `?collection=` in the address (a link
 * opens the same collection) and localStorage (the next visit opens the last one). Pure, so the
 * rules are tested without a page.
 */

const STORAGE_KEY = 'lookalike.collection';
/** The last list the server gave, so the switcher still works while it cannot be reached. */
const LIST_KEY = 'lookalike.collections';

/** `?collection=` wins (a shared link), then the saved choice, then the default. */
export function initialCollection(
  search: string,
  storage: Pick<Storage, 'getItem'> | undefined
): string {
  const fromUrl = new URLSearchParams(search).get('collection');
  if (isCollectionName(fromUrl)) return fromUrl;
  let saved: string | null = null;
  try {
    saved = storage?.getItem(STORAGE_KEY) ?? null;
  } catch {
    // Storage can be disabled (private mode, policies): the default is fine.
  }
  return isCollectionName(saved) ? saved : DEFAULT_COLLECTION;
}

export function saveCollection(name: string, storage: Pick<Storage, 'setItem'> | undefined): void {
  try {
    storage?.setItem(STORAGE_KEY, name);
  } catch {
    // Not saved: the address still names it.
  }
}

/**
 * The page's address showing `name`: `?collection=` set for another collection, removed for the
 * default (the single-collection address stays as it was); other parameters and the hash kept.
 */
export function addressFor(href: string, name: string): string {
  const url = new URL(href);
  if (name === DEFAULT_COLLECTION) url.searchParams.delete('collection');
  else url.searchParams.set('collection', name);
  return url.href;
}

export function saveCollectionList(
  list: readonly CollectionSummary[],
  storage: Pick<Storage, 'setItem'> | undefined
): void {
  try {
    storage?.setItem(LIST_KEY, JSON.stringify(list));
  } catch {
    // Not saved: offline, the switcher offers only the collection in use.
  }
}

export function savedCollectionList(
  storage: Pick<Storage, 'getItem'> | undefined
): CollectionSummary[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(LIST_KEY) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter(isEntry) : [];
  } catch {
    return [];
  }
}

function isEntry(value: unknown): value is CollectionSummary {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Partial<CollectionSummary>;
  return (
    isCollectionName(entry.name) &&
    typeof entry.images === 'number' &&
    typeof entry.default === 'boolean' &&
    (entry.model === null ||
      (typeof entry.model === 'object' && typeof entry.model?.id === 'string'))
  );
}
