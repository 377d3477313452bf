import type { ResultSet } from '@libsql/client';
import { asc, desc, eq, gt, inArray, or, sql } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { PathRecord } from '../catalog';
import type { CatalogRows, Fact, ImageRow, JobRow, JobRows, SeqAllocator } from '../sql/port';
import { pathsBelow } from '../sql/values';
import * as schema from './schema';

/** The database or a transaction on it: the row ops run on either. */
export type SqliteHandle = BaseSQLiteDatabase<'async', ResultSet, typeof schema>;

const { collection, images, paths, removed, jobs } = schema;

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

/** SQLite's side of the port: TEXT paths in the BINARY collation are compared byte for byte. */
export class SqliteRows implements CatalogRows, JobRows {
  constructor(private readonly db: SqliteHandle) {}

  facts(keys?: readonly string[]): Promise<Fact[]> {
    const query = this.db.select().from(collection);
    return keys ? query.where(inArray(collection.key, [...keys])) : query;
  }

  async insertFacts(facts: readonly Fact[]): Promise<void> {
    await this.db.insert(collection).values([...facts]);
  }

  async insertFactIfMissing(fact: Fact): Promise<void> {
    await this.db.insert(collection).values(fact).onConflictDoNothing();
  }

  async incrementFact(key: string, by: number): Promise<void> {
    await this.db
      .insert(collection)
      .values({ key, value: String(by) })
      .onConflictDoUpdate({
        target: collection.key,
        set: { value: sql`CAST(${collection.value} AS INTEGER) + ${by}` }
      });
  }

  async deleteFacts(keys: readonly string[]): Promise<void> {
    await this.db.delete(collection).where(inArray(collection.key, [...keys]));
  }

  insertImages(rows: readonly ImageRow[]) {
    return this.db
      .insert(images)
      .values(rows.map((r) => ({ ...r, vector: Buffer.from(r.vector) })))
      .returning({ id: images.id, contentHash: images.contentHash });
  }

  imagesById(ids: readonly number[]) {
    return this.db
      .select(imageColumns)
      .from(images)
      .where(inArray(images.id, [...ids]));
  }

  imagesByHash(hashes: readonly string[]) {
    return this.db
      .select(imageColumns)
      .from(images)
      .where(inArray(images.contentHash, [...hashes]));
  }

  vectorsById(ids: readonly number[]) {
    return this.db
      .select({ id: images.id, vector: images.vector })
      .from(images)
      .where(inArray(images.id, [...ids]));
  }

  pendingVectors(limit: number) {
    return this.db
      .select({ id: images.id, vector: images.vector })
      .from(images)
      .where(eq(images.state, 'pending'))
      .orderBy(asc(images.id))
      .limit(limit);
  }

  vectorsAfterSeq(afterSeq: number, limit: number) {
    return this.db
      .select({ id: images.id, seq: images.seq, vector: images.vector })
      .from(images)
      .where(gt(images.seq, afterSeq))
      .orderBy(asc(images.seq))
      .limit(limit);
  }

  imagesAfter(afterId: number, limit: number) {
    return this.db
      .select({ ...imageColumns, vector: images.vector })
      .from(images)
      .where(gt(images.id, afterId))
      .orderBy(asc(images.id))
      .limit(limit);
  }

  async idsAfter(afterId: number, limit: number): Promise<number[]> {
    const rows = await this.db
      .select({ id: images.id })
      .from(images)
      .where(gt(images.id, afterId))
      .orderBy(asc(images.id))
      .limit(limit);
    return rows.map((r) => r.id);
  }

  async markIndexed(ids: readonly number[]): Promise<void> {
    await this.db
      .update(images)
      .set({ state: 'indexed' })
      .where(inArray(images.id, [...ids]));
  }

  async deleteImages(ids: readonly number[]): Promise<void> {
    await this.db.delete(images).where(inArray(images.id, [...ids]));
  }

  async countImages(): Promise<number> {
    const [row] = await this.db.select({ n: sql<number>`count(*)` }).from(images);
    return Number(row?.n ?? 0);
  }

  pathsByPath(list: readonly string[]): Promise<PathRecord[]> {
    return this.db
      .select()
      .from(paths)
      .where(inArray(paths.path, [...list]));
  }

  pathsUnder(root: string): Promise<PathRecord[]> {
    return this.db
      .select()
      .from(paths)
      .where(or(eq(paths.path, root), pathsBelow(paths.path, root)));
  }

  pathsOfImages(ids: readonly number[]) {
    return this.db
      .select({ imageId: paths.imageId, path: paths.path })
      .from(paths)
      .where(inArray(paths.imageId, [...ids]));
  }

  async imagesInUse(ids: readonly number[]): Promise<number[]> {
    const rows = await this.db
      .selectDistinct({ imageId: paths.imageId })
      .from(paths)
      .where(inArray(paths.imageId, [...ids]));
    return rows.map((r) => r.imageId);
  }

  async upsertPaths(links: readonly PathRecord[]): Promise<void> {
    await this.db
      .insert(paths)
      .values(links.map((l) => ({ ...l })))
      .onConflictDoUpdate({
        target: paths.path,
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
      .where(inArray(paths.path, [...list]))
      .returning({ imageId: paths.imageId });
    return gone.map((g) => g.imageId);
  }

  async deleteAllContent(): Promise<void> {
    await this.db.delete(paths);
    await this.db.delete(images);
  }

  async logRemovals(rows: readonly { seq: number; imageId: number }[]): Promise<void> {
    await this.db.insert(removed).values([...rows]);
  }

  async removedAfter(afterSeq: number): Promise<number[]> {
    const rows = await this.db
      .select({ imageId: removed.imageId })
      .from(removed)
      .where(gt(removed.seq, afterSeq))
      .orderBy(asc(removed.seq));
    return rows.map((r) => r.imageId);
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

  recentJobs(limit: number): Promise<JobRow[]> {
    return this.db.select().from(jobs).orderBy(desc(jobs.createdAt), desc(jobs.jobId)).limit(limit);
  }

  /** No row locks in SQLite: the caller's transaction runs alone (the write queue). */
  jobsInStates(states: readonly string[]): Promise<JobRow[]> {
    return this.db
      .select()
      .from(jobs)
      .where(inArray(jobs.state, [...states]));
  }

  /** The change sequence as a counter fact, bumped and read back in one statement. */
  seq(): SeqAllocator {
    return {
      take: async (count) => {
        const [row] = await this.db
          .insert(collection)
          .values({ key: 'seq', value: String(count) })
          .onConflictDoUpdate({
            target: collection.key,
            set: { value: sql`CAST(${collection.value} AS INTEGER) + ${count}` }
          })
          .returning({ value: collection.value });
        return Number(row!.value) - count + 1;
      }
    };
  }
}
