import { deleteDB, openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { DEFAULT_COLLECTION } from '$lib/api/collection-scope';

/**
 * The collection snapshots kept on this device for offline search (IndexedDB): one database per
 * collection, so one collection's copy never answers for another. The raw bytes and their
 * description are stored under separate keys, so reading the description (at every start) does
 * not load megabytes of vectors.
 */

export interface StoredSnapshotMeta {
  /** The server's snapshot version (its ETag). */
  version: string;
  /** When this device saved it (Unix ms). */
  savedAt: number;
  count: number;
  modelId: string;
  /** Size of the stored snapshot in bytes. */
  bytes: number;
  /** The first pictures' ids (up to MAX_THUMBS): whose thumbnails to fetch ahead for offline. */
  thumbIds?: number[];
}

interface OfflineDb extends DBSchema {
  snapshot: {
    key: 'meta' | 'data';
    value: StoredSnapshotMeta | ArrayBuffer;
  };
}

/** The default collection keeps the name it had before collections, so its saved copy stays. */
const DB_NAME = 'lookalike-offline';
const STORE = 'snapshot';

/** IndexedDB's name for a collection's saved copy (names hold no colon, so none collide). */
export function snapshotDbName(collection: string): string {
  return collection === DEFAULT_COLLECTION ? DB_NAME : `${DB_NAME}:${collection}`;
}

const opening = new Map<string, Promise<IDBPDatabase<OfflineDb>>>();

function db(collection: string): Promise<IDBPDatabase<OfflineDb>> {
  let database = opening.get(collection);
  if (!database) {
    database = openDB<OfflineDb>(snapshotDbName(collection), 1, {
      upgrade(created) {
        created.createObjectStore(STORE);
      }
    });
    opening.set(collection, database);
  }
  return database;
}

export async function readSnapshotMeta(
  collection: string
): Promise<StoredSnapshotMeta | undefined> {
  return (await (await db(collection)).get(STORE, 'meta')) as StoredSnapshotMeta | undefined;
}

export async function readSnapshotData(collection: string): Promise<ArrayBuffer | undefined> {
  return (await (await db(collection)).get(STORE, 'data')) as ArrayBuffer | undefined;
}

/** Replaces the stored snapshot; both keys change in one transaction, so they always match. */
export async function writeSnapshot(
  collection: string,
  data: ArrayBuffer,
  meta: StoredSnapshotMeta
): Promise<void> {
  const tx = (await db(collection)).transaction(STORE, 'readwrite');
  await Promise.all([tx.store.put(data, 'data'), tx.store.put(meta, 'meta'), tx.done]);
}

/** The collection was deleted: its saved copy goes. */
export async function deleteSnapshot(collection: string): Promise<void> {
  const open = opening.get(collection);
  opening.delete(collection);
  (await open?.catch(() => undefined))?.close();
  await deleteDB(snapshotDbName(collection));
}
