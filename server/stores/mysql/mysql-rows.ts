import { createHash } from 'node:crypto';
import { and, asc, desc, eq, gt, inArray, or, sql, type SQL } from 'drizzle-orm';
import type { MySql2Database } from 'drizzle-orm/mysql2';
import type { PathRecord } from '../catalog';
import type {
  CatalogRows,
  CollectionRow,
  CollectionsRows,
  FolderRow,
  ImageRow,
  JobRow,
  JobRows,
  SeqAllocator
} from '../sql/port';
import { pathsBelow } from '../sql/values';
import * as schema from './schema';

/** A drizzle handle bound to one connection (a pooled one, or the one used for migrations). */
export type MysqlHandle = MySql2Database;

const { collections, images, paths, removed, jobs, libraryFolders } = schema;

const folderColumns = {
  path: libraryFolders.path,
  recursive: libraryFolders.recursive,
  watched: libraryFolders.watched,
  addedAt: libraryFolders.addedAt
};

/** SHA-256 hex of the path's UTF-8 bytes: the key of `paths` (a 4096-byte path is too long to be one). */
export const pathHash = (path: string) => createHash('sha256').update(path, 'utf8').digest('hex');

const imageColumns = {
  id: images.id,
  contentHash: images.contentHash,
  width: images.width,
  height: images.height,
  bytes: images.bytes,
  format: images.format,
  dhash: images.dhash,
  state: images.state
};

const pathColumns = {
  path: paths.path,
  imageId: paths.imageId,
  size: paths.size,
  mtimeMs: paths.mtimeMs
};

/** MySQL's database-wide row ops: the collections table and the jobs. */
export class MysqlRows implements CollectionsRows, JobRows {
  constructor(private readonly db: MysqlHandle) {}

  collections(name?: string): Promise<CollectionRow[]> {
    const query = this.db.select().from(collections);
    return (name === undefined ? query : query.where(eq(collections.name, name))).orderBy(
      asc(collections.name)
    );
  }

  async insertCollectionIfMissing(name: string, createdAt: number): Promise<void> {
    await this.db.insert(collections).ignore().values({ name, createdAt });
  }

  async imageCounts(): Promise<Map<number, number>> {
    const rows = await this.db
      .select({ id: images.collectionId, n: sql<number>`count(*)` })
      .from(images)
      .groupBy(images.collectionId);
    return new Map(rows.map((r) => [r.id, Number(r.n)]));
  }

  async deleteCollection(id: number): Promise<void> {
    await this.db.delete(collections).where(eq(collections.id, id));
  }

  watchedFolders(): Promise<(FolderRow & { collectionId: number })[]> {
    return this.db
      .select({ ...folderColumns, collectionId: libraryFolders.collectionId })
      .from(libraryFolders)
      .where(eq(libraryFolders.watched, true));
  }

  scoped(collectionId: number): MysqlCollectionRows {
    return new MysqlCollectionRows(this.db, collectionId);
  }

  async upsertJob(row: JobRow): Promise<void> {
    await this.db
      .insert(jobs)
      .values(row)
      .onDuplicateKeyUpdate({ set: { state: row.state, record: row.record } });
  }

  async job(jobId: string): Promise<JobRow | undefined> {
    const [row] = await this.db.select().from(jobs).where(eq(jobs.jobId, jobId));
    return row;
  }

  recentJobs(limit: number, collection?: string): Promise<JobRow[]> {
    return this.db
      .select()
      .from(jobs)
      .where(collection === undefined ? undefined : eq(jobs.collection, collection))
      .orderBy(desc(jobs.createdAt), desc(jobs.jobId))
      .limit(limit);
  }

  jobsInStates(states: readonly string[]): Promise<JobRow[]> {
    return this.db
      .select()
      .from(jobs)
      .where(inArray(jobs.state, [...states]))
      .for('update');
  }
}

/**
 * MySQL's side of the port for one collection. Paths are VARBINARY (byte-exact order and range,
 * see schema.ts) keyed by (collection, `path_hash`); content hashes are utf8mb4_bin (the
 * database's collation), so exact too. Every query is filtered on (every insert sets) the
 * collection id.
 */
export class MysqlCollectionRows implements CatalogRows {
  constructor(
    private readonly db: MysqlHandle,
    readonly collectionId: number
  ) {}

  private inImages(condition?: SQL): SQL {
    return condition
      ? and(eq(images.collectionId, this.collectionId), condition)!
      : eq(images.collectionId, this.collectionId);
  }

  private inPaths(condition?: SQL): SQL {
    return condition
      ? and(eq(paths.collectionId, this.collectionId), condition)!
      : eq(paths.collectionId, this.collectionId);
  }

  private get thisCollection(): SQL {
    return eq(collections.id, this.collectionId);
  }

  async collection(): Promise<CollectionRow | undefined> {
    const [row] = await this.db.select().from(collections).where(this.thisCollection);
    return row;
  }

  async setModel(model: { modelId: string; dimension: number } | null): Promise<void> {
    await this.db
      .update(collections)
      .set({ modelId: model?.modelId ?? null, dimension: model?.dimension ?? null })
      .where(this.thisCollection);
  }

  async bumpRevision(epoch: string): Promise<void> {
    await this.db
      .update(collections)
      .set({
        revision: sql`${collections.revision} + 1`,
        revisionEpoch: sql`coalesce(${collections.revisionEpoch}, ${epoch})`
      })
      .where(this.thisCollection);
  }

  lockSeq(): Promise<SeqAllocator | undefined> {
    return SeqCounter.lock(this.db, this.collectionId);
  }

  /**
   * Reads the ids back by content hash rather than trusting insertId + n: with
   * auto_increment_increment > 1 (Galera) the ids of one INSERT are not consecutive.
   */
  async insertImages(rows: readonly ImageRow[]) {
    await this.db
      .insert(images)
      .values(
        rows.map((r) => ({ ...r, collectionId: this.collectionId, vector: Buffer.from(r.vector) }))
      );
    return this.db
      .select({ id: images.id, contentHash: images.contentHash })
      .from(images)
      .where(
        this.inImages(
          inArray(
            images.contentHash,
            rows.map((r) => r.contentHash)
          )
        )
      );
  }

  imagesById(ids: readonly number[]) {
    return this.db
      .select(imageColumns)
      .from(images)
      .where(this.inImages(inArray(images.id, [...ids])));
  }

  imagesByHash(hashes: readonly string[]) {
    return this.db
      .select(imageColumns)
      .from(images)
      .where(this.inImages(inArray(images.contentHash, [...hashes])));
  }

  vectorsById(ids: readonly number[]) {
    return this.db
      .select({ id: images.id, vector: images.vector })
      .from(images)
      .where(this.inImages(inArray(images.id, [...ids])));
  }

  pendingVectors(limit: number) {
    return this.db
      .select({ id: images.id, vector: images.vector })
      .from(images)
      .where(this.inImages(eq(images.state, 'pending')))
      .orderBy(asc(images.id))
      .limit(limit);
  }

  vectorsAfterSeq(afterSeq: number, limit: number) {
    return this.db
      .select({ id: images.id, seq: images.seq, vector: images.vector })
      .from(images)
      .where(this.inImages(gt(images.seq, afterSeq)))
      .orderBy(asc(images.seq))
      .limit(limit);
  }

  imagesAfter(afterId: number, limit: number) {
    return this.db
      .select({ ...imageColumns, vector: images.vector })
      .from(images)
      .where(this.inImages(gt(images.id, afterId)))
      .orderBy(asc(images.id))
      .limit(limit);
  }

  async idsAfter(afterId: number, limit: number): Promise<number[]> {
    const rows = await this.db
      .select({ id: images.id })
      .from(images)
      .where(this.inImages(gt(images.id, afterId)))
      .orderBy(asc(images.id))
      .limit(limit);
    return rows.map((r) => r.id);
  }

  async markIndexed(ids: readonly number[]): Promise<void> {
    await this.db
      .update(images)
      .set({ state: 'indexed' })
      .where(this.inImages(inArray(images.id, [...ids])));
  }

  async deleteImages(ids: readonly number[]): Promise<void> {
    await this.db.delete(images).where(this.inImages(inArray(images.id, [...ids])));
  }

  async countImages(): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)` })
      .from(images)
      .where(this.inImages());
    return Number(row?.n ?? 0);
  }

  pathsByPath(list: readonly string[]): Promise<PathRecord[]> {
    return this.db
      .select(pathColumns)
      .from(paths)
      .where(this.inPaths(inArray(paths.pathHash, list.map(pathHash))));
  }

  /**
   * `path_hash = hash(root) OR root/ <= path < root0` (see pathsBelow). Cost: the range is a range
   * scan on the 255-byte prefix index `paths_path_prefix` (migration 0002), so it reads only the
   * rows under the root (for roots longer than 255 bytes, those sharing its first 255).
   */
  pathsUnder(root: string): Promise<PathRecord[]> {
    return this.db
      .select(pathColumns)
      .from(paths)
      .where(this.inPaths(or(eq(paths.pathHash, pathHash(root)), pathsBelow(paths.path, root))));
  }

  async countPathsUnder(root: string): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)` })
      .from(paths)
      .where(this.inPaths(or(eq(paths.pathHash, pathHash(root)), pathsBelow(paths.path, root))));
    return Number(row?.n ?? 0);
  }

  private inFolders(condition?: SQL): SQL {
    return condition
      ? and(eq(libraryFolders.collectionId, this.collectionId), condition)!
      : eq(libraryFolders.collectionId, this.collectionId);
  }

  folders(): Promise<FolderRow[]> {
    return this.db.select(folderColumns).from(libraryFolders).where(this.inFolders());
  }

  async upsertFolder(folder: Omit<FolderRow, 'watched'>): Promise<void> {
    await this.db
      .insert(libraryFolders)
      .values({ ...folder, pathHash: pathHash(folder.path), collectionId: this.collectionId })
      .onDuplicateKeyUpdate({ set: { recursive: folder.recursive } });
  }

  async setFolderWatched(path: string, watched: boolean): Promise<void> {
    await this.db
      .update(libraryFolders)
      .set({ watched })
      .where(this.inFolders(eq(libraryFolders.pathHash, pathHash(path))));
  }

  async deleteFolder(path: string): Promise<void> {
    await this.db
      .delete(libraryFolders)
      .where(this.inFolders(eq(libraryFolders.pathHash, pathHash(path))));
  }

  async deleteAllFolders(): Promise<void> {
    await this.db.delete(libraryFolders).where(this.inFolders());
  }

  pathsOfImages(ids: readonly number[]) {
    return this.db
      .select({ imageId: paths.imageId, path: paths.path })
      .from(paths)
      .where(this.inPaths(inArray(paths.imageId, [...ids])));
  }

  async imagesInUse(ids: readonly number[]): Promise<number[]> {
    const rows = await this.db
      .selectDistinct({ imageId: paths.imageId })
      .from(paths)
      .where(this.inPaths(inArray(paths.imageId, [...ids])));
    return rows.map((r) => r.imageId);
  }

  async upsertPaths(links: readonly PathRecord[]): Promise<void> {
    await this.db
      .insert(paths)
      .values(
        links.map((l) => ({
          collectionId: this.collectionId,
          pathHash: pathHash(l.path),
          path: l.path,
          imageId: l.imageId,
          size: l.size,
          mtimeMs: l.mtimeMs
        }))
      )
      .onDuplicateKeyUpdate({
        set: {
          imageId: sql`VALUES(${paths.imageId})`,
          size: sql`VALUES(${paths.size})`,
          mtimeMs: sql`VALUES(${paths.mtimeMs})`
        }
      });
  }

  /** No DELETE … RETURNING in MySQL: read first (no other writer touches them: see SeqCounter). */
  async deletePaths(list: readonly string[]): Promise<number[]> {
    const hashes = list.map(pathHash);
    const gone = await this.db
      .select({ imageId: paths.imageId })
      .from(paths)
      .where(this.inPaths(inArray(paths.pathHash, hashes)));
    if (gone.length > 0)
      await this.db.delete(paths).where(this.inPaths(inArray(paths.pathHash, hashes)));
    return gone.map((g) => g.imageId);
  }

  async deleteAllContent(): Promise<void> {
    await this.db.delete(paths).where(this.inPaths());
    await this.db.delete(images).where(this.inImages());
  }

  async deleteRemovalLog(): Promise<void> {
    await this.db.delete(removed).where(eq(removed.collectionId, this.collectionId));
  }

  async logRemovals(rows: readonly { seq: number; imageId: number }[]): Promise<void> {
    await this.db
      .insert(removed)
      .values(rows.map((r) => ({ ...r, collectionId: this.collectionId })));
  }

  async removedAfter(afterSeq: number): Promise<number[]> {
    const rows = await this.db
      .select({ imageId: removed.imageId })
      .from(removed)
      .where(and(eq(removed.collectionId, this.collectionId), gt(removed.seq, afterSeq)))
      .orderBy(asc(removed.seq));
    return rows.map((r) => r.imageId);
  }
}

/**
 * A collection's change sequence, held for the rest of a write transaction: its `collections` row
 * is locked first by every transaction that touches the collection's images or paths, so change
 * numbers are committed in order (a reader never sees seq 6 before seq 5 exists) and those
 * transactions always take their locks in the same order (no deadlock between them). Writes to
 * other collections do not wait for it.
 */
export class SeqCounter implements SeqAllocator {
  private constructor(
    private readonly db: MysqlHandle,
    private readonly collectionId: number,
    private current: number
  ) {}

  /** Undefined when the collection does not exist (any more). */
  static async lock(db: MysqlHandle, collectionId: number): Promise<SeqCounter | undefined> {
    const [row] = await db
      .select({ seq: collections.seq })
      .from(collections)
      .where(eq(collections.id, collectionId))
      .for('update');
    return row ? new SeqCounter(db, collectionId, Number(row.seq)) : undefined;
  }

  async take(count: number): Promise<number> {
    const first = this.current + 1;
    this.current += count;
    await this.db
      .update(collections)
      .set({ seq: this.current })
      .where(eq(collections.id, this.collectionId));
    return first;
  }
}
