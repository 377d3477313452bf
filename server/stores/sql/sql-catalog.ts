import { randomUUID } from 'node:crypto';
import { UserError } from '../../errors';
import {
  CollectionNotFoundError,
  revisionToken,
  type Catalog,
  type CatalogStore,
  type CollectionSummary,
  type ImageRecord,
  type ImageWithPaths,
  type LibraryFolder,
  type NewImage,
  type PathRecord
} from '../catalog';
import { assertSameModel, modelFromRow, type CollectionModel } from '../collection-model';
import { DEFAULT_COLLECTION, isCollectionName } from '../collection-names';
import type { JobStore } from '../job-store';
import type {
  CatalogDialect,
  CatalogRows,
  CollectionRow,
  CollectionsRows,
  ImageRow,
  SeqAllocator
} from './port';
import { SqlJobStore } from './sql-job-store';
import { byBytes, chunks, fromBlob, IN_CHUNK, INSERT_CHUNK, toBlob } from './values';

/**
 * One collection's catalog over SQL, written once for every dialect (SQLite, MySQL): the write
 * algorithms (add with changed-file clean-up, link, remove, orphan deletion and its removal log,
 * clear, content revision, model claim), chunking and result order. A dialect supplies only the
 * port (port.ts): how to run a transaction, and one query per row op, scoped to the collection.
 * Every method that writes is one transaction; a content write first takes the collection's
 * change sequence (lockSeq), which also finds out whether the collection still exists.
 */
export class SqlCatalog implements Catalog {
  readonly kind: string;

  protected constructor(
    protected readonly dialect: CatalogDialect,
    /** The collection's id (unique over the database's life) and name. */
    readonly collectionId: number,
    readonly collectionName: string,
    /** What close() does: nothing for a catalog lent by a CatalogStore. */
    private readonly onClose: () => Promise<void>
  ) {
    this.kind = dialect.kind;
  }

  /** A catalog on one collection of the store's database (store.catalog(name) hands it out). */
  static scoped(
    dialect: CatalogDialect,
    collection: { id: number; name: string },
    onClose: () => Promise<void> = () => Promise.resolve()
  ): SqlCatalog {
    return new SqlCatalog(dialect, collection.id, collection.name, onClose);
  }

  /** The job history, in this catalog's database (its own table; not collection content). */
  jobStore(): JobStore {
    return new SqlJobStore(this.dialect);
  }

  private read<T>(work: (rows: CatalogRows) => Promise<T>): Promise<T> {
    return this.dialect.read((all) => work(all.scoped(this.collectionId)));
  }

  /** A transaction that changes no content (write-ahead state): no change number needed. */
  private transaction<T>(work: (rows: CatalogRows) => Promise<T>): Promise<T> {
    return this.dialect.transaction((all) => work(all.scoped(this.collectionId)));
  }

  /** A transaction that may change images, paths or the collection's facts. */
  private write<T>(work: (rows: CatalogRows, seq: SeqAllocator) => Promise<T>): Promise<T> {
    return this.dialect.transaction(async (all) => {
      const rows = all.scoped(this.collectionId);
      return work(rows, await lockSeq(rows, this.collectionName));
    });
  }

  async contentRevision(): Promise<string> {
    const row = await this.read((rows) => rows.collection());
    return row ? revisionToken(row.revisionEpoch, row.revision) : '0';
  }

  async latestSeq(): Promise<number> {
    return (await this.read((rows) => rows.collection()))?.seq ?? 0;
  }

  async collectionModel() {
    const row = await this.read((rows) => rows.collection());
    return row ? modelFromRow(row) : undefined;
  }

  async claimCollection(model: CollectionModel): Promise<void> {
    await this.write((rows) => claimIn(rows, model));
  }

  async getPath(path: string): Promise<PathRecord | undefined> {
    return (await this.getPaths([path])).get(path);
  }

  getPaths(paths: readonly string[]): Promise<Map<string, PathRecord>> {
    return this.read(async (rows) => {
      const found = new Map<string, PathRecord>();
      for (const chunk of chunks(paths, IN_CHUNK))
        for (const record of await rows.pathsByPath(chunk)) found.set(record.path, record);
      return found;
    });
  }

  async findImageByHash(contentHash: string): Promise<ImageRecord | undefined> {
    return (await this.findImagesByHashes([contentHash])).get(contentHash);
  }

  findImagesByHashes(hashes: readonly string[]): Promise<Map<string, ImageRecord>> {
    return this.read(async (rows) => {
      const found = new Map<string, ImageRecord>();
      for (const chunk of chunks(hashes, IN_CHUNK))
        for (const image of await rows.imagesByHash(chunk)) found.set(image.contentHash, image);
      return found;
    });
  }

  getImages(ids: readonly number[]): Promise<Map<number, ImageWithPaths>> {
    if (ids.length === 0) return Promise.resolve(new Map());
    return this.read(async (rows) => {
      const images: ImageRecord[] = [];
      for (const chunk of chunks(ids, IN_CHUNK)) images.push(...(await rows.imagesById(chunk)));
      return withPaths(rows, images);
    });
  }

  addImages(
    newImages: readonly NewImage[],
    model?: CollectionModel
  ): Promise<{ ids: number[]; removedIds: number[] }> {
    if (newImages.length === 0) return Promise.resolve({ ids: [], removedIds: [] });
    return this.write(async (rows, seq) => {
      // The claim shares the images' transaction: a crash cannot leave a model with no images.
      if (model) await claimIn(rows, model);
      const previous = await imagesOfPaths(
        rows,
        newImages.map((img) => img.file.path)
      );
      const first = await seq.take(newImages.length);
      await bumpRevision(rows);
      const stored: ImageRow[] = newImages.map((img, i) => ({
        contentHash: img.contentHash,
        width: img.width,
        height: img.height,
        bytes: img.bytes,
        format: img.format,
        dhash: img.dhash,
        vector: toBlob(img.vector),
        state: 'pending',
        seq: first + i
      }));
      const idByHash = new Map<string, number>();
      for (const chunk of chunks(stored, INSERT_CHUNK))
        for (const row of await rows.insertImages(chunk)) idByHash.set(row.contentHash, row.id);
      const ids = newImages.map((img) => idByHash.get(img.contentHash)!);
      await upsertPaths(
        rows,
        newImages.map((img, i) => ({ ...img.file, imageId: ids[i]! }))
      );
      // A changed file may have left its old picture without any path.
      return { ids, removedIds: await deleteOrphans(rows, seq, [...previous.values()]) };
    });
  }

  linkPaths(links: readonly PathRecord[]): Promise<number[]> {
    if (links.length === 0) return Promise.resolve([]);
    return this.write(async (rows, seq) => {
      const previous = await imagesOfPaths(
        rows,
        links.map((l) => l.path)
      );
      await upsertPaths(rows, links);
      // Refreshing a file's size and mtime changes nothing an offline snapshot lists.
      if (links.some((l) => previous.get(l.path) !== l.imageId)) await bumpRevision(rows);
      return deleteOrphans(rows, seq, [...previous.values()]);
    });
  }

  markIndexed(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.transaction(async (rows) => {
      for (const chunk of chunks(ids, IN_CHUNK)) await rows.markIndexed(chunk);
    });
  }

  async pendingImages(limit: number) {
    const found = await this.read((rows) => rows.pendingVectors(limit));
    return found.map((r) => ({ id: r.id, vector: fromBlob(r.vector) }));
  }

  async vectorsChangedSince(afterSeq: number, limit: number) {
    const found = await this.read((rows) => rows.vectorsAfterSeq(afterSeq, limit));
    return found.map((r) => ({ id: r.id, seq: r.seq, vector: fromBlob(r.vector) }));
  }

  removedSince(afterSeq: number): Promise<number[]> {
    return this.read((rows) => rows.removedAfter(afterSeq));
  }

  pathsUnder(root: string): Promise<PathRecord[]> {
    return this.read((rows) => rows.pathsUnder(root));
  }

  removePaths(toRemove: readonly string[]): Promise<number[]> {
    if (toRemove.length === 0) return Promise.resolve([]);
    return this.write(async (rows, seq) => {
      const left: number[] = [];
      for (const chunk of chunks(toRemove, IN_CHUNK)) left.push(...(await rows.deletePaths(chunk)));
      if (left.length === 0) return [];
      await bumpRevision(rows);
      return deleteOrphans(rows, seq, left);
    });
  }

  countImages(): Promise<number> {
    return this.read((rows) => rows.countImages());
  }

  countPathsUnder(root: string): Promise<number> {
    return this.read((rows) => rows.countPathsUnder(root));
  }

  async folders(): Promise<LibraryFolder[]> {
    return byBytes(await this.read((rows) => rows.folders()), (f) => f.path);
  }

  recordFolder(path: string, recursive: boolean): Promise<void> {
    return this.transaction(async (rows) => {
      // A deleted collection gets no folder: its writes refuse as content writes do.
      if (!(await rows.collection())) throw new CollectionNotFoundError(this.collectionName);
      await rows.upsertFolder({ path, recursive, addedAt: Date.now() });
    });
  }

  setFolderWatched(path: string, watched: boolean): Promise<LibraryFolder | undefined> {
    return this.transaction(async (rows) => {
      const folder = (await rows.folders()).find((f) => f.path === path);
      if (!folder) return undefined;
      await rows.setFolderWatched(path, watched);
      return { ...folder, watched };
    });
  }

  forgetFolder(path: string): Promise<void> {
    return this.transaction((rows) => rows.deleteFolder(path));
  }

  idsAfter(afterId: number, limit: number): Promise<number[]> {
    return this.read((rows) => rows.idsAfter(afterId, limit));
  }

  async vectorsOf(ids: readonly number[]) {
    if (ids.length === 0) return [];
    const found = await this.read(async (rows) => {
      const all = [];
      for (const chunk of chunks(ids, IN_CHUNK)) all.push(...(await rows.vectorsById(chunk)));
      return all;
    });
    return found.map((r) => ({ id: r.id, vector: fromBlob(r.vector) }));
  }

  imagesAfter(afterId: number, limit: number) {
    return this.read(async (rows) => {
      const page = await rows.imagesAfter(afterId, limit);
      const images = await withPaths(
        rows,
        page.map(({ vector: _, ...image }) => image)
      );
      return page.map((r) => ({ ...images.get(r.id)!, vector: fromBlob(r.vector) }));
    });
  }

  /**
   * One transaction, like every write: on a very large collection it deletes every row at once
   * (and logs every removal), so it holds its locks for a while.
   */
  clear(): Promise<void> {
    return this.write(clearIn);
  }

  /** Closes the database when this catalog owns it (SqliteCatalog/MysqlCatalog.open). */
  close(): Promise<void> {
    return this.onClose();
  }
}

/**
 * The whole database over SQL, for every dialect: the named collections (each a `collections`
 * row, its content scoped by collection id) and the job store.
 */
export class SqlCatalogStore implements CatalogStore {
  readonly kind: string;

  protected constructor(protected readonly dialect: CatalogDialect) {
    this.kind = dialect.kind;
  }

  async listCollections(): Promise<CollectionSummary[]> {
    const [all, counts] = await this.dialect.read(
      async (rows) => [await rows.collections(), await rows.imageCounts()] as const
    );
    return all.map((row) => summary(row, counts.get(row.id) ?? 0));
  }

  getCollection(name: string): Promise<CollectionSummary | undefined> {
    if (!isCollectionName(name)) return Promise.resolve(undefined);
    return this.dialect.read((rows) => summaryOf(rows, name));
  }

  collectionId(name: string): Promise<number | undefined> {
    if (!isCollectionName(name)) return Promise.resolve(undefined);
    return this.dialect.read(async (rows) => (await rows.collections(name))[0]?.id);
  }

  async createCollection(name: string): Promise<CollectionSummary> {
    if (!isCollectionName(name)) {
      throw new UserError(
        `"${name}" is not a collection name: use 1 to 64 letters, digits, "_" or "-", not starting with "-".`
      );
    }
    const row = await ensureCollection(this.dialect, name);
    return summary(row, await this.dialect.read((rows) => rows.scoped(row.id).countImages()));
  }

  deleteCollection(name: string): Promise<boolean> {
    if (!isCollectionName(name)) return Promise.resolve(false);
    return this.dialect.transaction(async (all) => {
      const [row] = await all.collections(name);
      if (!row) return false;
      const rows = all.scoped(row.id);
      // The sequence lock first, as in every content write: writers of this collection wait.
      const seq = await lockSeq(rows, name);
      if (name === DEFAULT_COLLECTION) {
        // Emptied, not removed: its change numbers go on, so an index snapshot catches up.
        await clearIn(rows, seq);
      } else {
        await rows.deleteAllContent();
        await rows.deleteRemovalLog();
        await rows.deleteAllFolders();
        await all.deleteCollection(row.id);
      }
      return true;
    });
  }

  async catalog(name: string): Promise<Catalog> {
    const [row] = isCollectionName(name)
      ? await this.dialect.read((rows) => rows.collections(name))
      : [];
    if (!row) throw new CollectionNotFoundError(name);
    return SqlCatalog.scoped(this.dialect, row);
  }

  async watchedFolders(): Promise<(LibraryFolder & { collection: string })[]> {
    const [all, watched] = await this.dialect.read(
      async (rows) => [await rows.collections(), await rows.watchedFolders()] as const
    );
    const names = new Map(all.map((row) => [row.id, row.name]));
    const folders = byBytes(watched, (f) => f.path).flatMap(({ collectionId, ...folder }) => {
      const collection = names.get(collectionId);
      return collection === undefined ? [] : [{ ...folder, collection }];
    });
    return folders.sort((a, b) =>
      Buffer.compare(Buffer.from(a.collection), Buffer.from(b.collection))
    );
  }

  jobStore(): JobStore {
    return new SqlJobStore(this.dialect);
  }

  async ping(): Promise<boolean> {
    return this.dialect.ping ? this.dialect.ping() : true;
  }

  close(): Promise<void> {
    return this.dialect.close();
  }
}

/**
 * The default collection's row. It exists from the migration on; this recreates it if it was
 * removed by hand, so every open (store or default catalog) can rely on it.
 */
export function defaultCollection(dialect: CatalogDialect): Promise<CollectionRow> {
  return ensureCollection(dialect, DEFAULT_COLLECTION);
}

/**
 * The collection's row, inserted first if missing. Looked up before inserting: an INSERT that
 * finds the name taken still uses up an AUTO_INCREMENT value in InnoDB. The insert ignores a
 * duplicate (two servers creating the same name at once) and comes first in its transaction, so
 * the read after it (a MySQL snapshot starts at the first read) sees the other server's row.
 */
async function ensureCollection(dialect: CatalogDialect, name: string): Promise<CollectionRow> {
  const [existing] = await dialect.read((rows) => rows.collections(name));
  if (existing) return existing;
  const [row] = await dialect.transaction(async (rows) => {
    await rows.insertCollectionIfMissing(name, Date.now());
    return rows.collections(name);
  });
  // Only a delete racing this very call can get here.
  if (!row) throw new CollectionNotFoundError(name);
  return row;
}

function summary(row: CollectionRow, images: number): CollectionSummary {
  const model = modelFromRow(row);
  return {
    id: row.id,
    name: row.name,
    ...(model ? { model } : {}),
    images,
    createdAt: row.createdAt
  };
}

async function summaryOf(
  rows: CollectionsRows,
  name: string
): Promise<CollectionSummary | undefined> {
  const [row] = await rows.collections(name);
  return row ? summary(row, await rows.scoped(row.id).countImages()) : undefined;
}

/** The collection's change sequence, held to the end of the transaction; it must still exist. */
async function lockSeq(rows: CatalogRows, name: string): Promise<SeqAllocator> {
  const seq = await rows.lockSeq();
  if (!seq) throw new CollectionNotFoundError(name);
  return seq;
}

/** Deletes every image and path, logging each removal, and forgets the model. */
async function clearIn(rows: CatalogRows, seq: SeqAllocator): Promise<void> {
  const all: number[] = [];
  for (let page = await rows.idsAfter(0, IN_CHUNK); page.length > 0;) {
    all.push(...page);
    page = await rows.idsAfter(page[page.length - 1]!, IN_CHUNK);
  }
  await rows.deleteAllContent();
  await rows.deleteAllFolders();
  await bumpRevision(rows);
  // Log every removal, so an index snapshot from before the clear catches up correctly.
  await logRemovals(rows, seq, all);
  await rows.setModel(null);
}

/**
 * Records the model on first use; throws CollectionMismatchError when another built it. Runs
 * under the sequence lock (write), so two first claims cannot both see no model.
 */
async function claimIn(rows: CatalogRows, model: CollectionModel): Promise<void> {
  const row = await rows.collection();
  const existing = row ? modelFromRow(row) : undefined;
  if (existing) assertSameModel(existing, model);
  else await rows.setModel(model);
}

/** Moves contentRevision() on; every transaction that changes images or paths calls it. */
async function bumpRevision(rows: CatalogRows): Promise<void> {
  await rows.bumpRevision(randomUUID());
}

/** The image each of these paths points at now (paths not known are left out). */
async function imagesOfPaths(
  rows: CatalogRows,
  paths: readonly string[]
): Promise<Map<string, number>> {
  const images = new Map<string, number>();
  for (const chunk of chunks(paths, IN_CHUNK))
    for (const record of await rows.pathsByPath(chunk)) images.set(record.path, record.imageId);
  return images;
}

async function upsertPaths(rows: CatalogRows, links: readonly PathRecord[]): Promise<void> {
  for (const chunk of chunks(links, INSERT_CHUNK)) await rows.upsertPaths(chunk);
}

/**
 * Deletes those of `candidates` that no path refers to any more, logging each removal; in id
 * order, so the result and the log do not depend on the order a dialect returns rows in.
 */
async function deleteOrphans(
  rows: CatalogRows,
  seq: SeqAllocator,
  candidates: readonly number[]
): Promise<number[]> {
  const unique = [...new Set(candidates)].sort((a, b) => a - b);
  const orphans: number[] = [];
  for (const chunk of chunks(unique, IN_CHUNK)) {
    const used = new Set(await rows.imagesInUse(chunk));
    orphans.push(...chunk.filter((id) => !used.has(id)));
  }
  for (const chunk of chunks(orphans, IN_CHUNK)) await rows.deleteImages(chunk);
  await logRemovals(rows, seq, orphans);
  return orphans;
}

/** Numbers each removal, in the order given, so an index can replay it. */
async function logRemovals(
  rows: CatalogRows,
  seq: SeqAllocator,
  ids: readonly number[]
): Promise<void> {
  for (const chunk of chunks(ids, INSERT_CHUNK)) {
    const first = await seq.take(chunk.length);
    await rows.logRemovals(chunk.map((imageId, i) => ({ seq: first + i, imageId })));
  }
}

/** The images with their paths, each image's paths in byte order. */
async function withPaths(
  rows: CatalogRows,
  images: readonly ImageRecord[]
): Promise<Map<number, ImageWithPaths>> {
  const result = new Map<number, ImageWithPaths>();
  for (const image of images) result.set(image.id, { ...image, paths: [] });
  const links: { imageId: number; path: string }[] = [];
  for (const chunk of chunks([...result.keys()], IN_CHUNK))
    links.push(...(await rows.pathsOfImages(chunk)));
  for (const link of byBytes(links, (l) => l.path)) result.get(link.imageId)?.paths.push(link.path);
  return result;
}
