import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

/**
 * The collection snapshot kept on this device for offline search (IndexedDB). The raw bytes and
 * their description are stored under separate keys, so reading the description (at every start)
 * does not load megabytes of vectors.
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

const DB_NAME = 'lookalike-offline';
const STORE = 'snapshot';

let opening: Promise<IDBPDatabase<OfflineDb>> | undefined;

function db(): Promise<IDBPDatabase<OfflineDb>> {
  opening ??= openDB<OfflineDb>(DB_NAME, 1, {
    upgrade(database) {
      database.createObjectStore(STORE);
    }
  });
  return opening;
}

export async function readSnapshotMeta(): Promise<StoredSnapshotMeta | undefined> {
  return (await (await db()).get(STORE, 'meta')) as StoredSnapshotMeta | undefined;
}

export async function readSnapshotData(): Promise<ArrayBuffer | undefined> {
  return (await (await db()).get(STORE, 'data')) as ArrayBuffer | undefined;
}

/** Replaces the stored snapshot; both keys change in one transaction, so they always match. */
export async function writeSnapshot(data: ArrayBuffer, meta: StoredSnapshotMeta): Promise<void> {
  const tx = (await db()).transaction(STORE, 'readwrite');
  await Promise.all([tx.store.put(data, 'data'), tx.store.put(meta, 'meta'), tx.done]);
}
