import { randomUUID } from 'node:crypto';
import {
  REVISION_KEYS,
  revisionFromFacts,
  type Catalog,
  type ImageRecord,
  type ImageWithPaths,
  type NewImage,
  type PathRecord
} from '../catalog';
import {
  assertSameModel,
  modelFacts,
  modelFromFacts,
  type CollectionModel
} from '../collection-model';
import type { JobStore } from '../job-store';
import type { CatalogDialect, CatalogRows, ImageRow, SeqAllocator } from './port';
import { SqlJobStore } from './sql-job-store';
import { byBytes, chunks, fromBlob, IN_CHUNK, INSERT_CHUNK, toBlob } from './values';

/** The `collection` fact holding the last change number handed out. */
const SEQ_KEY = 'seq';
const MODEL_KEYS = ['model_id', 'dimension'];

/**
 * The catalog over SQL, written once for every dialect (SQLite, MySQL): the write algorithms
 * (add with changed-file clean-up, link, remove, orphan deletion and its removal log, clear,
 * content revision, model claim), chunking and result order. A dialect supplies only the port
 * (port.ts): how to run a transaction and hold the change sequence, and one query per row op.
 * Every method that writes is one transaction.
 */
export class SqlCatalog implements Catalog {
  readonly kind: string;

  protected constructor(protected readonly dialect: CatalogDialect) {
    this.kind = dialect.kind;
  }

  /** The job history, in this catalog's database (its own tables; not collection content). */
  jobStore(): JobStore {
    return new SqlJobStore(this.dialect);
  }

  async contentRevision(): Promise<string> {
    return revisionFromFacts(
      await this.dialect.read((rows) => rows.facts([REVISION_KEYS.counter, REVISION_KEYS.epoch]))
    );
  }

  async latestSeq(): Promise<number> {
    const [fact] = await this.dialect.read((rows) => rows.facts([SEQ_KEY]));
    return fact ? Number(fact.value) : 0;
  }

  async collectionModel() {
    return modelFromFacts(await this.dialect.read((rows) => rows.facts(MODEL_KEYS)));
  }

  async claimCollection(model: CollectionModel): Promise<void> {
    await this.dialect.write((rows) => claimIn(rows, model));
  }

  async getPath(path: string): Promise<PathRecord | undefined> {
    return (await this.getPaths([path])).get(path);
  }

  getPaths(paths: readonly string[]): Promise<Map<string, PathRecord>> {
    return this.dialect.read(async (rows) => {
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
    return this.dialect.read(async (rows) => {
      const found = new Map<string, ImageRecord>();
      for (const chunk of chunks(hashes, IN_CHUNK))
        for (const image of await rows.imagesByHash(chunk)) found.set(image.contentHash, image);
      return found;
    });
  }

  getImages(ids: readonly number[]): Promise<Map<number, ImageWithPaths>> {
    if (ids.length === 0) return Promise.resolve(new Map());
    return this.dialect.read(async (rows) => {
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
    return this.dialect.write(async (rows, seq) => {
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
    return this.dialect.write(async (rows, seq) => {
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
    return this.dialect.transaction(async (rows) => {
      for (const chunk of chunks(ids, IN_CHUNK)) await rows.markIndexed(chunk);
    });
  }

  async pendingImages(limit: number) {
    const found = await this.dialect.read((rows) => rows.pendingVectors(limit));
    return found.map((r) => ({ id: r.id, vector: fromBlob(r.vector) }));
  }

  async vectorsChangedSince(afterSeq: number, limit: number) {
    const found = await this.dialect.read((rows) => rows.vectorsAfterSeq(afterSeq, limit));
    return found.map((r) => ({ id: r.id, seq: r.seq, vector: fromBlob(r.vector) }));
  }

  removedSince(afterSeq: number): Promise<number[]> {
    return this.dialect.read((rows) => rows.removedAfter(afterSeq));
  }

  pathsUnder(root: string): Promise<PathRecord[]> {
    return this.dialect.read((rows) => rows.pathsUnder(root));
  }

  removePaths(toRemove: readonly string[]): Promise<number[]> {
    if (toRemove.length === 0) return Promise.resolve([]);
    return this.dialect.write(async (rows, seq) => {
      const left: number[] = [];
      for (const chunk of chunks(toRemove, IN_CHUNK)) left.push(...(await rows.deletePaths(chunk)));
      if (left.length === 0) return [];
      await bumpRevision(rows);
      return deleteOrphans(rows, seq, left);
    });
  }

  countImages(): Promise<number> {
    return this.dialect.read((rows) => rows.countImages());
  }

  idsAfter(afterId: number, limit: number): Promise<number[]> {
    return this.dialect.read((rows) => rows.idsAfter(afterId, limit));
  }

  async vectorsOf(ids: readonly number[]) {
    if (ids.length === 0) return [];
    const found = await this.dialect.read(async (rows) => {
      const all = [];
      for (const chunk of chunks(ids, IN_CHUNK)) all.push(...(await rows.vectorsById(chunk)));
      return all;
    });
    return found.map((r) => ({ id: r.id, vector: fromBlob(r.vector) }));
  }

  imagesAfter(afterId: number, limit: number) {
    return this.dialect.read(async (rows) => {
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
    return this.dialect.write(async (rows, seq) => {
      const all: number[] = [];
      for (let page = await rows.idsAfter(0, IN_CHUNK); page.length > 0;) {
        all.push(...page);
        page = await rows.idsAfter(page[page.length - 1]!, IN_CHUNK);
      }
      await rows.deleteAllContent();
      await bumpRevision(rows);
      // Log every removal, so an index snapshot from before the clear catches up correctly.
      await logRemovals(rows, seq, all);
      await rows.deleteFacts(MODEL_KEYS);
    });
  }

  close(): Promise<void> {
    return this.dialect.close();
  }
}

/** Moves contentRevision() on; every transaction that changes images or paths calls it. */
/** Records the model on first use; throws CollectionMismatchError when another built it. */
async function claimIn(rows: CatalogRows, model: CollectionModel): Promise<void> {
  const existing = modelFromFacts(await rows.facts(MODEL_KEYS));
  if (existing) assertSameModel(existing, model);
  else await rows.insertFacts(modelFacts(model));
}

async function bumpRevision(rows: CatalogRows): Promise<void> {
  await rows.insertFactIfMissing({ key: REVISION_KEYS.epoch, value: randomUUID() });
  await rows.incrementFact(REVISION_KEYS.counter, 1);
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
