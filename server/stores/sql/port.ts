import type { ImageRecord, PathRecord } from '../catalog';

/**
 * The per-dialect port under the SQL catalog and job store: how to run work (a read, a
 * transaction, a content write holding the change sequence) and the row reads and writes, one
 * query each, that a dialect spells differently (keys, upserts, ids of inserted rows, locking
 * reads). Everything else (the algorithms, chunking, ordering, value encodings) is written once
 * in sql-catalog.ts and sql-job-store.ts. Implementations: sqlite/sqlite-rows.ts and
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

export interface Fact {
  key: string;
  value: string;
}

export interface CatalogRows {
  /** The `collection` facts with these keys (all of them without keys). */
  facts(keys?: readonly string[]): Promise<Fact[]>;
  insertFacts(facts: readonly Fact[]): Promise<void>;
  insertFactIfMissing(fact: Fact): Promise<void>;
  /** Adds `by` to an integer fact (missing: inserts `by`). */
  incrementFact(key: string, by: number): Promise<void>;
  deleteFacts(keys: readonly string[]): Promise<void>;

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
  /** Deletes every path and then every image. */
  deleteAllContent(): Promise<void>;

  logRemovals(rows: readonly { seq: number; imageId: number }[]): Promise<void>;
  /** Image ids removed with seq > afterSeq, in seq order. */
  removedAfter(afterSeq: number): Promise<number[]>;
}

/** A job as stored: the whole record as JSON, with the columns queries filter and sort on. */
export interface JobRow {
  jobId: string;
  state: string;
  createdAt: number;
  record: string;
}

export interface JobRows {
  upsertJob(row: JobRow): Promise<void>;
  job(jobId: string): Promise<JobRow | undefined>;
  /** Newest first (createdAt, then jobId, descending). */
  recentJobs(limit: number): Promise<JobRow[]>;
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
  /** One transaction that does not touch images or paths (write-ahead state, jobs). */
  transaction<T>(work: (rows: Rows) => Promise<T>): Promise<T>;
}

export interface CatalogDialect extends SqlDialect<CatalogRows & JobRows> {
  readonly kind: string;
  /**
   * One transaction that may change images, paths or collection facts: such transactions are
   * serialised (they take the change sequence first), so change numbers commit in order.
   */
  write<T>(work: (rows: CatalogRows, seq: SeqAllocator) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
