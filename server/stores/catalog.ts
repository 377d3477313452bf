import { UserError } from '../errors';
import type { CollectionModel } from './collection-model';
import type { JobStore } from './job-store';
import type { VectorSource } from './vector-source';

/** One distinct picture (by content): every identical file shares it. */
export interface ImageRecord {
  id: number;
  /** SHA-256 of the file's bytes. */
  contentHash: string;
  width: number;
  height: number;
  bytes: number;
  format: string;
  /** 64-bit difference hash of the picture, hex: near-identical pictures differ in few bits. */
  dhash: string;
  /** Write-ahead state: `pending` until the vector index has the vector too. */
  state: 'pending' | 'indexed';
}

export interface ImageWithPaths extends ImageRecord {
  paths: string[];
}

/** A file known to the catalog and the facts used to tell whether it changed. */
export interface PathRecord {
  path: string;
  imageId: number;
  size: number;
  mtimeMs: number;
}

export interface NewImage extends Omit<ImageRecord, 'id' | 'state'> {
  vector: Float32Array;
  /** The file it was read from. */
  file: Omit<PathRecord, 'imageId'>;
}

// Jobs have a store of their own (job-store.ts); their types are re-exported for existing imports.
export type { IndexCounters, JobRecord, JobState } from './job-store';
/**
 * Everything about a collection except nearest-neighbour search: which model built it, id ↔ path,
 * the facts incremental indexing needs, every vector (the source of truth a vector index is
 * rebuilt or repaired from). Jobs are not collection data: they have a JobStore of their own.
 * Implementations: SQLite (embedded default) and MySQL (scale-out), one SqlCatalog over a
 * per-dialect port (sql/port.ts). Every method that writes is one transaction.
 */
export interface Catalog extends VectorSource {
  readonly kind: string;
  /** The model that built this collection, if any image was ever added. */
  collectionModel(): Promise<CollectionModel | undefined>;
  /** Records the model on first use; throws CollectionMismatchError when another model built it. */
  claimCollection(model: { modelId: string; dimension: number }): Promise<void>;

  getPath(path: string): Promise<PathRecord | undefined>;
  /** The known ones of these paths (compared byte for byte), keyed by path; any number of them. */
  getPaths(paths: readonly string[]): Promise<Map<string, PathRecord>>;
  findImageByHash(contentHash: string): Promise<ImageRecord | undefined>;
  /** The images with these content hashes, keyed by hash; any number of them. */
  findImagesByHashes(hashes: readonly string[]): Promise<Map<string, ImageRecord>>;
  getImages(ids: readonly number[]): Promise<Map<number, ImageWithPaths>>;

  /**
   * Inserts new images (state pending) with their first path; returns their ids in input order and
   * the ids of images that lost their last path to these files (changed files), now deleted.
   * With `model`, the same transaction first claims the collection for it (as claimCollection),
   * so a refused claim writes nothing and a crash cannot leave a claim without images.
   */
  addImages(
    images: readonly NewImage[],
    model?: { modelId: string; dimension: number }
  ): Promise<{ ids: number[]; removedIds: number[] }>;
  /**
   * Points paths at existing images (a copy, a move, or a changed file now identical to another);
   * returns the ids of images left without any path, now deleted.
   */
  linkPaths(links: readonly PathRecord[]): Promise<number[]>;
  markIndexed(ids: readonly number[]): Promise<void>;
  /** Images still pending (written, but maybe not in the vector index yet). */
  pendingImages(limit: number): Promise<{ id: number; vector: Float32Array }[]>;

  /** Known paths equal to `root` or below it. */
  pathsUnder(root: string): Promise<PathRecord[]>;
  /**
   * Forgets these paths; images left without any path are deleted (and logged as removed).
   * Returns the ids of the deleted images.
   */
  removePaths(paths: readonly string[]): Promise<number[]>;
  /** How many known paths `pathsUnder(root)` would list, counted by the database. */
  countPathsUnder(root: string): Promise<number>;
  /** Distinct images (contents). */
  countImages(): Promise<number>;

  /** The Library: the collection's folders (those index jobs were started for), by path bytes. */
  folders(): Promise<LibraryFolder[]>;
  /** Adds a folder to the Library (an index job starts for it); one already there keeps its watch. */
  recordFolder(path: string, recursive: boolean): Promise<void>;
  /** Watches a Library folder or stops; undefined when the folder is not in the Library. */
  setFolderWatched(path: string, watched: boolean): Promise<LibraryFolder | undefined>;
  /** Takes a folder out of the Library (its paths are removed separately: removePaths). */
  forgetFolder(path: string): Promise<void>;
  /**
   * A token that changes with every write to the collection's content (images added or removed,
   * paths added, re-pointed or forgotten, clear) and stays the same otherwise, across restarts:
   * the offline snapshot's version. Compare for equality only. `latestSeq` is not enough: a path
   * that moves to an image that is kept changes no seq. A random part chosen on the first write
   * keeps a recreated database from repeating an old token.
   */
  contentRevision(): Promise<string>;
  /** Image ids in ascending order after `afterId` (for reconciliation: no vectors transferred). */
  idsAfter(afterId: number, limit: number): Promise<number[]>;
  /** The stored vectors of these images (missing ids are left out). */
  vectorsOf(ids: readonly number[]): Promise<{ id: number; vector: Float32Array }[]>;
  /** Every image with its paths and vector, for duplicates and exports; in id order, paged. */
  imagesAfter(
    afterId: number,
    limit: number
  ): Promise<(ImageWithPaths & { vector: Float32Array })[]>;
  /** Deletes every image, path and Library folder (the collection's model is forgotten too). */
  clear(): Promise<void>;

  /** Whether the store answers now (for /api/health); in-process stores need not implement it. */
  ping?(): Promise<boolean>;

  close(): Promise<void>;
}

/** A folder of a collection's Library: a real path an index job was started for. */
export interface LibraryFolder {
  path: string;
  recursive: boolean;
  /** The server watches it and indexes it again when files change. */
  watched: boolean;
  /** ms since the epoch */
  addedAt: number;
}

/** contentRevision() from a collection's counter and epoch: `<epoch>.<counter>`, `0` before any write. */
export function revisionToken(epoch: string | null | undefined, counter: number): string {
  return epoch ? `${epoch}.${counter}` : '0';
}

/** A collection as listed: `model` is absent until something was indexed into it. */
export interface CollectionSummary {
  /** Unique over the database's life: a collection deleted and created again gets a new id. */
  id: number;
  name: string;
  model?: CollectionModel;
  /** Distinct images (contents). */
  images: number;
  /** ms since the epoch */
  createdAt: number;
}

/**
 * The whole catalog database: every named collection (names as collection-names.ts defines them,
 * compared exactly) and the job store. One implementation, SqlCatalogStore (sql/), with SQLite
 * and MySQL dialects.
 */
export interface CatalogStore {
  readonly kind: string;
  /** Every collection in name order (byte order), the default one included. */
  listCollections(): Promise<CollectionSummary[]>;
  getCollection(name: string): Promise<CollectionSummary | undefined>;
  /**
   * The collection's id, undefined when there is none of that name: one indexed row, no count
   * (an open collection asks it every few seconds to notice a delete by another server).
   */
  collectionId(name: string): Promise<number | undefined>;
  /** Creates it if missing (idempotent); returns its summary. */
  createCollection(name: string): Promise<CollectionSummary>;
  /**
   * Deletes its images, paths, removal log and facts, in one transaction. Returns false if it did
   * not exist. The default collection is emptied instead (as Catalog.clear()): it always exists.
   */
  deleteCollection(name: string): Promise<boolean>;
  /**
   * The collection's catalog, scoped to it; its close() does not close the database. Throws
   * CollectionNotFoundError if the collection does not exist. Once the collection is deleted,
   * the catalog's writes throw CollectionNotFoundError and its reads find nothing.
   */
  catalog(name: string): Promise<Catalog>;
  /** Every collection's watched Library folders, by collection name then path. */
  watchedFolders(): Promise<(LibraryFolder & { collection: string })[]>;
  /** The job history, in the same database (jobs name their collection in the record). */
  jobStore(): JobStore;
  /** Whether the store answers now (for /api/health); in-process stores need not implement it. */
  ping?(): Promise<boolean>;
  close(): Promise<void>;
}

/** No collection of that name (or it was deleted while a catalog on it was open). */
export class CollectionNotFoundError extends UserError {
  override name = 'CollectionNotFoundError';
  override readonly status = 404;
  override readonly code = 'collection_not_found';
  constructor(readonly collection: string) {
    super(`There is no collection "${collection}".`);
  }
}
