import { createHash } from 'node:crypto';
import { asc, desc, eq, gt, inArray, or, sql } from 'drizzle-orm';
import type { MySql2Database } from 'drizzle-orm/mysql2';
import type { PathRecord } from '../catalog';
import type { CatalogRows, Fact, ImageRow, JobRow, JobRows, SeqAllocator } from '../sql/port';
import { pathsBelow } from '../sql/values';
import * as schema from './schema';

/** A drizzle handle bound to one connection (a pooled one, or the one used for migrations). */
export type MysqlHandle = MySql2Database;

const { collection, images, paths, removed, jobs } = schema;

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

/**
 * MySQL's side of the port. Paths are VARBINARY (byte-exact order and range, see schema.ts) keyed
 * by `path_hash`; content hashes are utf8mb4_bin (the database's collation), so exact too.
 */
export class MysqlRows implements CatalogRows, JobRows {
  constructor(private readonly db: MysqlHandle) {}

  facts(keys?: readonly string[]): Promise<Fact[]> {
    const query = this.db.select().from(collection);
    return keys ? query.where(inArray(collection.key, [...keys])) : query;
  }

  async insertFacts(facts: readonly Fact[]): Promise<void> {
    await this.db.insert(collection).values([...facts]);
  }

  async insertFactIfMissing(fact: Fact): Promise<void> {
    await this.db.insert(collection).ignore().values(fact);
  }

  async incrementFact(key: string, by: number): Promise<void> {
    await this.db
      .insert(collection)
      .values({ key, value: String(by) })
      .onDuplicateKeyUpdate({ set: { value: sql`CAST(${collection.value} AS UNSIGNED) + ${by}` } });
  }

  async deleteFacts(keys: readonly string[]): Promise<void> {
    await this.db.delete(collection).where(inArray(collection.key, [...keys]));
  }

  /**
   * Reads the ids back by content hash rather than trusting insertId + n: with
   * auto_increment_increment > 1 (Galera) the ids of one INSERT are not consecutive.
   */
  async insertImages(rows: readonly ImageRow[]) {
    await this.db.insert(images).values(rows.map((r) => ({ ...r, vector: Buffer.from(r.vector) })));
    return this.db
      .select({ id: images.id, contentHash: images.contentHash })
      .from(images)
      .where(
        inArray(
          images.contentHash,
          rows.map((r) => r.contentHash)
        )
      );
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
      .select(pathColumns)
      .from(paths)
      .where(inArray(paths.pathHash, list.map(pathHash)));
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
      .where(or(eq(paths.pathHash, pathHash(root)), pathsBelow(paths.path, root)));
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
      .values(
        links.map((l) => ({
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
      .where(inArray(paths.pathHash, hashes));
    if (gone.length > 0) await this.db.delete(paths).where(inArray(paths.pathHash, hashes));
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
      .onDuplicateKeyUpdate({ set: { state: row.state, record: row.record } });
  }

  async job(jobId: string): Promise<JobRow | undefined> {
    const [row] = await this.db.select().from(jobs).where(eq(jobs.jobId, jobId));
    return row;
  }

  recentJobs(limit: number): Promise<JobRow[]> {
    return this.db.select().from(jobs).orderBy(desc(jobs.createdAt), desc(jobs.jobId)).limit(limit);
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
 * The change sequence, held for the rest of a write transaction: the `seq` row of `collection`
 * is locked first by every transaction that touches images or paths, so change numbers are
 * committed in order (a reader never sees seq 6 before seq 5 exists) and those transactions
 * always take their locks in the same order (no deadlock between them).
 */
export class SeqCounter implements SeqAllocator {
  private constructor(
    private readonly db: MysqlHandle,
    private current: number
  ) {}

  static async lock(db: MysqlHandle): Promise<SeqCounter> {
    const read = () =>
      db
        .select({ value: collection.value })
        .from(collection)
        .where(eq(collection.key, 'seq'))
        .for('update');
    let [row] = await read();
    if (!row) {
      // Seeded at open; this is only for a row someone deleted by hand.
      await db.insert(collection).ignore().values({ key: 'seq', value: '0' });
      [row] = await read();
    }
    return new SeqCounter(db, Number(row?.value ?? 0));
  }

  async take(count: number): Promise<number> {
    const first = this.current + 1;
    this.current += count;
    await this.db
      .update(collection)
      .set({ value: String(this.current) })
      .where(eq(collection.key, 'seq'));
    return first;
  }
}
