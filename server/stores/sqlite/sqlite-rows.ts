import type { ResultSet } from '@libsql/client';
import { and, asc, desc, eq, gt, inArray, or, sql, type SQL } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
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

/** The database or a transaction on it: the row ops run on either. */
export type SqliteHandle = BaseSQLiteDatabase<'async', ResultSet, typeof schema>;

const { collections, images, paths, removed, jobs, libraryFolders } = schema;

const folderColumns = {
  path: libraryFolders.path,
  recursive: libraryFolders.recursive,
  watched: libraryFolders.watched,
  addedAt: libraryFolders.addedAt
};

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

/** SQLite's database-wide row ops: the collections table and the jobs. */
export class SqliteRows implements CollectionsRows, JobRows {
  constructor(private readonly db: SqliteHandle) {}

  collections(name?: string): Promise<CollectionRow[]> {
    const query = this.db.select().from(collections);
    return (name === undefined ? query : query.where(eq(collections.name, name))).orderBy(
      asc(collections.name)
    );
  }

  async insertCollectionIfMissing(name: string, createdAt: number): Promise<void> {
    await this.db.insert(collections).values({ name, createdAt }).onConflictDoNothing();
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

  scoped(collectionId: number): SqliteCollectionRows {
    return new SqliteCollectionRows(this.db, collectionId);
  }

  async upsertJob(row: JobRow): Promise<void> {
    await this.db
      .insert(jobs)
      .values(row)
      .onConflictDoUpdate({ target: jobs.jobId, set: { state: row.state, record: row.record } });
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

  /** No row locks in SQLite: the caller's transaction runs alone (the write queue). */
  jobsInStates(states: readonly string[]): Promise<JobRow[]> {
    return this.db
      .select()
      .from(jobs)
      .where(inArray(jobs.state, [...states]));
  }
}

/**
 * SQLite's side of the port for one collection: TEXT paths in the BINARY collation are compared
 * byte for byte; every query is filtered on (and every insert sets) the collection id.
 */
export class SqliteCollectionRows implements CatalogRows {
  constructor(
    private readonly db: SqliteHandle,
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

  /**
   * No row locks in SQLite: the caller's transaction runs alone (the write queue), which is what
   * keeps change numbers in commit order. The counter is bumped and read back in one statement.
   */
  async lockSeq(): Promise<SeqAllocator | undefined> {
    if (!(await this.collection())) return undefined;
    return {
      take: async (count) => {
        const [row] = await this.db
          .update(collections)
          .set({ seq: sql`${collections.seq} + ${count}` })
          .where(this.thisCollection)
          .returning({ seq: collections.seq });
        return row!.seq - count + 1;
      }
    };
  }

  insertImages(rows: readonly ImageRow[]) {
    return this.db
      .insert(images)
      .values(
        rows.map((r) => ({ ...r, collectionId: this.collectionId, vector: Buffer.from(r.vector) }))
      )
      .returning({ id: images.id, contentHash: images.contentHash });
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
      .where(this.inPaths(inArray(paths.path, [...list])));
  }

  pathsUnder(root: string): Promise<PathRecord[]> {
    return this.db
      .select(pathColumns)
      .from(paths)
      .where(this.inPaths(or(eq(paths.path, root), pathsBelow(paths.path, root))));
  }

  async countPathsUnder(root: string): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)` })
      .from(paths)
      .where(this.inPaths(or(eq(paths.path, root), pathsBelow(paths.path, root))));
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
      .values({ ...folder, collectionId: this.collectionId })
      .onConflictDoUpdate({
        target: [libraryFolders.collectionId, libraryFolders.path],
        set: { recursive: folder.recursive }
      });
  }

  async setFolderWatched(path: string, watched: boolean): Promise<void> {
    await this.db
      .update(libraryFolders)
      .set({ watched })
      .where(this.inFolders(eq(libraryFolders.path, path)));
  }

  async deleteFolder(path: string): Promise<void> {
    await this.db.delete(libraryFolders).where(this.inFolders(eq(libraryFolders.path, path)));
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
      .values(links.map((l) => ({ ...l, collectionId: this.collectionId })))
      .onConflictDoUpdate({
        target: [paths.collectionId, paths.path],
        set: {
          imageId: sql`excluded.image_id`,
          size: sql`excluded.size`,
          mtimeMs: sql`excluded.mtime_ms`
        }
      });
  }

  async deletePaths(list: readonly string[]): Promise<number[]> {
    const gone = await this.db
      .delete(paths)
      .where(this.inPaths(inArray(paths.path, [...list])))
      .returning({ imageId: paths.imageId });
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
