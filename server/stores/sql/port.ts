import type { ImageRecord, PathRecord } from '../catalog';

/**
 * The per-dialect port under the SQL catalog and job store: how to run work (a read, a
 * transaction) and the row reads and writes, one query each, that a dialect spells differently
 * (keys, upserts, ids of inserted rows, locking reads); a collection's row ops come scoped to it
 * (CollectionsRows.scoped). Everything else (the algorithms, chunking, ordering, value encodings)
 * is written once in sql-catalog.ts and sql-job-store.ts. Implementations: sqlite/sqlite-rows.ts and
 * mysql/mysql-rows.ts; both are run through the same contract suites.
 *
 * Row ops take lists of at most IN_CHUNK (keys) or INSERT_CHUNK (rows) elements, never empty:
 * the callers chunk. Paths are compared byte for byte, content hashes exactly.
 */

/** An image row as stored: its vector as float32 bytes. */
export interface ImageRow extends Omit<ImageRecord, 'id'> {
  vector: Uint8Array;
  seq: number;
}

export interface StoredVector {
  id: number;
  vector: Uint8Array;
}

/** A `collections` row: the collection's name and facts. */
export interface CollectionRow {
  id: number;
  name: string;
  /** The model that built it; null until the first claim (and again after a clear). */
  modelId: string | null;
  dimension: number | null;
  /** The last change number handed out in this collection. */
  seq: number;
  /** contentRevision(): a counter and the random part chosen on the first write. */
  revision: number;
  revisionEpoch: string | null;
  /** ms since the epoch */
  createdAt: number;
}

/** Row ops on the `collections` table itself (database-wide, not scoped to one collection). */
export interface CollectionsRows {
  /** Every collection, or the one with this exact name; in name (byte) order. */
  collections(name?: string): Promise<CollectionRow[]>;
  /** Inserts the collection unless the name exists already. */
  insertCollectionIfMissing(name: string, createdAt: number): Promise<void>;
  /** Distinct images per collection id (collections without images are left out). */
  imageCounts(): Promise<Map<number, number>>;
  /** Every collection's watched Library folders (any order). */
  watchedFolders(): Promise<(FolderRow & { collectionId: number })[]>;
  /** Removes the collection row (its content first: see CatalogRows.deleteAllContent). */
  deleteCollection(id: number): Promise<void>;
  /** One collection's row ops: every one of them reads or writes only that collection. */
  scoped(collectionId: number): CatalogRows;
}

/**
 * The row ops of one collection (`collectionId`): every query filters on it, every insert sets
 * it. Image ids are unique over all collections, yet reads by id filter too, so one collection's
 * catalog never answers for another's picture.
 */
export interface CatalogRows {
  readonly collectionId: number;
  /** This collection's row (undefined once the collection was deleted). */
  collection(): Promise<CollectionRow | undefined>;
  /** Records (or with null forgets) the model that built the collection. */
  setModel(model: { modelId: string; dimension: number } | null): Promise<void>;
  /** Adds one to the revision counter and sets the epoch to `epoch` unless it has one. */
  bumpRevision(epoch: string): Promise<void>;
  /**
   * Holds this collection's change sequence until the transaction ends (a row lock where the
   * dialect has them), so change numbers commit in order; taken first by every content write.
   * Undefined when the collection no longer exists (deleted while a catalog on it was open).
   */
  lockSeq(): Promise<SeqAllocator | undefined>;

  /** Inserts these rows; returns every inserted row's id with its content hash (any order). */
  insertImages(rows: readonly ImageRow[]): Promise<{ id: number; contentHash: string }[]>;
  imagesById(ids: readonly number[]): Promise<ImageRecord[]>;
  imagesByHash(hashes: readonly string[]): Promise<ImageRecord[]>;
  vectorsById(ids: readonly number[]): Promise<StoredVector[]>;
  /** Pending images, in id order. */
  pendingVectors(limit: number): Promise<StoredVector[]>;
  /** Images with seq > afterSeq, in seq order. */
  vectorsAfterSeq(afterSeq: number, limit: number): Promise<(StoredVector & { seq: number })[]>;
  /** Images with id > afterId, in id order. */
  imagesAfter(afterId: number, limit: number): Promise<(ImageRecord & StoredVector)[]>;
  /** Image ids > afterId, in id order. */
  idsAfter(afterId: number, limit: number): Promise<number[]>;
  markIndexed(ids: readonly number[]): Promise<void>;
  deleteImages(ids: readonly number[]): Promise<void>;
  countImages(): Promise<number>;

  pathsByPath(paths: readonly string[]): Promise<PathRecord[]>;
  /** `root` itself and every path strictly below folder `root` (see pathsBelow). */
  pathsUnder(root: string): Promise<PathRecord[]>;
  /** The paths of these images (any order). */
  pathsOfImages(ids: readonly number[]): Promise<{ imageId: number; path: string }[]>;
  /** Those of these image ids that some path still refers to. */
  imagesInUse(ids: readonly number[]): Promise<number[]>;
  /** Inserts these paths, or re-points and refreshes the ones already known. */
  upsertPaths(links: readonly PathRecord[]): Promise<void>;
  /** Forgets these paths; returns the image id of each row deleted. */
  deletePaths(paths: readonly string[]): Promise<number[]>;
  /** Deletes every path and then every image of the collection. */
  deleteAllContent(): Promise<void>;
  /** Forgets the collection's removal log (only when the collection itself goes). */
  deleteRemovalLog(): Promise<void>;

  /** `root` itself and the paths strictly below it, counted (as pathsUnder lists them). */
  countPathsUnder(root: string): Promise<number>;
  /** The collection's Library folders (any order). */
  folders(): Promise<FolderRow[]>;
  /** Adds the folder, or sets `recursive` of one already there (its watch flag is kept). */
  upsertFolder(folder: Omit<FolderRow, 'watched'>): Promise<void>;
  setFolderWatched(path: string, watched: boolean): Promise<void>;
  deleteFolder(path: string): Promise<void>;
  /** Forgets every Library folder of the collection (a clear, a delete). */
  deleteAllFolders(): Promise<void>;

  logRemovals(rows: readonly { seq: number; imageId: number }[]): Promise<void>;
  /** Image ids removed with seq > afterSeq, in seq order. */
  removedAfter(afterSeq: number): Promise<number[]>;
}

/** A Library folder as stored (`library_folders`). */
export interface FolderRow {
  path: string;
  recursive: boolean;
  watched: boolean;
  /** ms since the epoch */
  addedAt: number;
}

/** A job as stored: the whole record as JSON, with the columns queries filter and sort on. */
export interface JobRow {
  jobId: string;
  state: string;
  createdAt: number;
  /** The record's collection. */
  collection: string;
  record: string;
}

export interface JobRows {
  upsertJob(row: JobRow): Promise<void>;
  job(jobId: string): Promise<JobRow | undefined>;
  /** Newest first (createdAt, then jobId, descending). */
  recentJobs(limit: number, collection?: string): Promise<JobRow[]>;
  /** Jobs in these states, locked for update until the transaction ends where the dialect can. */
  jobsInStates(states: readonly string[]): Promise<JobRow[]>;
}

/** The change sequence of one content write: reserved numbers are committed in order. */
export interface SeqAllocator {
  /** Reserves `count` consecutive change numbers; returns the first. */
  take(count: number): Promise<number>;
}

/** How a dialect runs work; every method that writes is one transaction. */
export interface SqlDialect<Rows> {
  /** A read, or several that need no isolation from writers. */
  read<T>(work: (rows: Rows) => Promise<T>): Promise<T>;
  /** One transaction (a content write takes its collection's lockSeq() first). */
  transaction<T>(work: (rows: Rows) => Promise<T>): Promise<T>;
}

export interface CatalogDialect extends SqlDialect<CollectionsRows & JobRows> {
  readonly kind: string;
  /** Whether the database answers now (for /api/health); in-process dialects need not. */
  ping?(): Promise<boolean>;
  close(): Promise<void>;
}
