import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@libsql/client';
import { asc, desc, eq, gt, inArray, or, sql } from 'drizzle-orm';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import {
  REVISION_KEYS,
  revisionFromFacts,
  type Catalog,
  type ImageRecord,
  type ImageWithPaths,
  type JobRecord,
  type NewImage,
  type PathRecord
} from '../catalog';
import {
  assertSameModel,
  modelFacts,
  modelFromFacts,
  type CollectionModel
} from '../collection-model';
import { asInterrupted, parseStoredJob, UNFINISHED_JOB_STATES } from '../job-store';
import { fromBlob, pathsBelow, toBlob } from '../sql-values';
import * as schema from './schema';

/** Values per IN (…) list: SQLite limits bound parameters. */
const IN_CHUNK = 500;
/** Rows per multi-row INSERT (each row binds up to 9 parameters). */
const INSERT_CHUNK = 200;

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

type Db = LibSQLDatabase<typeof schema>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * The embedded catalog: one SQLite file (WAL) through drizzle, with committed migrations. It holds
 * every vector, so the in-process ANN index is only a cache of it.
 */
export class SqliteCatalog implements Catalog {
  readonly kind = 'sqlite';
  /** libsql hands each transaction its own connection; serialise writes to avoid SQLITE_BUSY. */
  private writeQueue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly client: Client,
    private readonly db: Db
  ) {}

  static async open(file: string): Promise<SqliteCatalog> {
    await mkdir(dirname(file), { recursive: true });
    const client = createClient({ url: `file:${file}` });
    await client.execute('PRAGMA journal_mode = WAL');
    const db = drizzle(client, { schema });
    await migrate(db, { migrationsFolder: MIGRATIONS });
    return new SqliteCatalog(client, db);
  }

  private write<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const run = this.writeQueue.then(() => this.db.transaction(work));
    this.writeQueue = run.catch(() => undefined);
    return run;
  }

  /** Reserves `count` consecutive change numbers; returns the first. */
  private async nextSeq(tx: Tx, count: number): Promise<number> {
    const [row] = await tx
      .insert(schema.collection)
      .values({ key: 'seq', value: String(count) })
      .onConflictDoUpdate({
        target: schema.collection.key,
        set: { value: sql`CAST(${schema.collection.value} AS INTEGER) + ${count}` }
      })
      .returning({ value: schema.collection.value });
    return Number(row!.value) - count + 1;
  }

  /** Moves contentRevision() on; every transaction that changes images or paths calls it. */
  private async bumpRevision(tx: Tx): Promise<void> {
    await tx
      .insert(schema.collection)
      .values({ key: REVISION_KEYS.epoch, value: randomUUID() })
      .onConflictDoNothing();
    await tx
      .insert(schema.collection)
      .values({ key: REVISION_KEYS.counter, value: '1' })
      .onConflictDoUpdate({
        target: schema.collection.key,
        set: { value: sql`CAST(${schema.collection.value} AS INTEGER) + 1` }
      });
  }

  async contentRevision(): Promise<string> {
    const rows = await this.db
      .select()
      .from(schema.collection)
      .where(inArray(schema.collection.key, [REVISION_KEYS.counter, REVISION_KEYS.epoch]));
    return revisionFromFacts(rows);
  }

  async latestSeq(): Promise<number> {
    const [row] = await this.db
      .select({ value: schema.collection.value })
      .from(schema.collection)
      .where(eq(schema.collection.key, 'seq'));
    return row ? Number(row.value) : 0;
  }

  async collectionModel() {
    const rows = await this.db.select().from(schema.collection);
    return modelFromFacts(rows);
  }

  async claimCollection(model: CollectionModel): Promise<void> {
    await this.write(async (tx) => {
      const existing = modelFromFacts(await tx.select().from(schema.collection));
      if (existing) assertSameModel(existing, model);
      else await tx.insert(schema.collection).values(modelFacts(model));
    });
  }

  async getPath(path: string): Promise<PathRecord | undefined> {
    const [row] = await this.db.select().from(schema.paths).where(eq(schema.paths.path, path));
    return row;
  }

  async getPaths(list: readonly string[]): Promise<Map<string, PathRecord>> {
    const found = new Map<string, PathRecord>();
    for (let i = 0; i < list.length; i += IN_CHUNK) {
      const rows = await this.db
        .select()
        .from(schema.paths)
        .where(inArray(schema.paths.path, list.slice(i, i + IN_CHUNK)));
      for (const row of rows) found.set(row.path, row);
    }
    return found;
  }

  async findImagesByHashes(hashes: readonly string[]): Promise<Map<string, ImageRecord>> {
    const found = new Map<string, ImageRecord>();
    for (let i = 0; i < hashes.length; i += IN_CHUNK) {
      const rows = await this.db
        .select(imageColumns)
        .from(schema.images)
        .where(inArray(schema.images.contentHash, hashes.slice(i, i + IN_CHUNK)));
      for (const row of rows) found.set(row.contentHash, row);
    }
    return found;
  }

  async findImageByHash(contentHash: string): Promise<ImageRecord | undefined> {
    const [row] = await this.db
      .select(imageColumns)
      .from(schema.images)
      .where(eq(schema.images.contentHash, contentHash));
    return row;
  }

  async getImages(ids: readonly number[]): Promise<Map<number, ImageWithPaths>> {
    const result = new Map<number, ImageWithPaths>();
    if (ids.length === 0) return result;
    const rows = await this.db
      .select(imageColumns)
      .from(schema.images)
      .where(inArray(schema.images.id, [...ids]));
    const links = await this.db
      .select({ imageId: schema.paths.imageId, path: schema.paths.path })
      .from(schema.paths)
      .where(inArray(schema.paths.imageId, [...ids]))
      .orderBy(asc(schema.paths.path));
    for (const row of rows) result.set(row.id, { ...row, paths: [] });
    for (const link of links) result.get(link.imageId)?.paths.push(link.path);
    return result;
  }

  addImages(newImages: readonly NewImage[]): Promise<{ ids: number[]; removedIds: number[] }> {
    if (newImages.length === 0) return Promise.resolve({ ids: [], removedIds: [] });
    return this.write(async (tx) => {
      const previous = await this.imagesOfPaths(
        tx,
        newImages.map((img) => img.file.path)
      );
      const first = await this.nextSeq(tx, newImages.length);
      await this.bumpRevision(tx);
      const rows = newImages.map((img, i) => ({
        contentHash: img.contentHash,
        width: img.width,
        height: img.height,
        bytes: img.bytes,
        format: img.format,
        dhash: img.dhash,
        vector: toBlob(img.vector),
        state: 'pending' as const,
        seq: first + i
      }));
      const inserted: { id: number; contentHash: string }[] = [];
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        inserted.push(
          ...(await tx
            .insert(schema.images)
            .values(rows.slice(i, i + INSERT_CHUNK))
            .returning({ id: schema.images.id, contentHash: schema.images.contentHash }))
        );
      }
      const idByHash = new Map(inserted.map((r) => [r.contentHash, r.id]));
      const ids = newImages.map((img) => idByHash.get(img.contentHash)!);
      await upsertPaths(
        tx,
        newImages.map((img, i) => ({ ...img.file, imageId: ids[i]! }))
      );
      // A changed file may have left its old picture without any path.
      return { ids, removedIds: await this.deleteOrphans(tx, [...previous.values()]) };
    });
  }

  linkPaths(links: readonly PathRecord[]): Promise<number[]> {
    if (links.length === 0) return Promise.resolve([]);
    return this.write(async (tx) => {
      const previous = await this.imagesOfPaths(
        tx,
        links.map((l) => l.path)
      );
      await upsertPaths(tx, links);
      // Refreshing a file's size and mtime changes nothing an offline snapshot lists.
      if (links.some((l) => previous.get(l.path) !== l.imageId)) await this.bumpRevision(tx);
      return this.deleteOrphans(tx, [...previous.values()]);
    });
  }

  /** The image each of these paths points at now (paths not known are left out). */
  private async imagesOfPaths(tx: Tx, list: string[]): Promise<Map<string, number>> {
    const rows = await tx
      .select({ path: schema.paths.path, imageId: schema.paths.imageId })
      .from(schema.paths)
      .where(inArray(schema.paths.path, list));
    return new Map(rows.map((r) => [r.path, r.imageId]));
  }

  markIndexed(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.write(async (tx) => {
      await tx
        .update(schema.images)
        .set({ state: 'indexed' })
        .where(inArray(schema.images.id, [...ids]));
    });
  }

  async pendingImages(limit: number) {
    const rows = await this.db
      .select({ id: schema.images.id, vector: schema.images.vector })
      .from(schema.images)
      .where(eq(schema.images.state, 'pending'))
      .limit(limit);
    return rows.map((r) => ({ id: r.id, vector: fromBlob(r.vector) }));
  }

  async vectorsChangedSince(afterSeq: number, limit: number) {
    const rows = await this.db
      .select({ id: schema.images.id, seq: schema.images.seq, vector: schema.images.vector })
      .from(schema.images)
      .where(gt(schema.images.seq, afterSeq))
      .orderBy(asc(schema.images.seq))
      .limit(limit);
    return rows.map((r) => ({ id: r.id, seq: r.seq, vector: fromBlob(r.vector) }));
  }

  async removedSince(afterSeq: number): Promise<number[]> {
    const rows = await this.db
      .select({ imageId: schema.removed.imageId })
      .from(schema.removed)
      .where(gt(schema.removed.seq, afterSeq));
    return rows.map((r) => r.imageId);
  }

  async pathsUnder(root: string): Promise<PathRecord[]> {
    return this.db
      .select()
      .from(schema.paths)
      .where(or(eq(schema.paths.path, root), pathsBelow(schema.paths.path, root)));
  }

  removePaths(toRemove: readonly string[]): Promise<number[]> {
    if (toRemove.length === 0) return Promise.resolve([]);
    return this.write(async (tx) => {
      const removedIds: number[] = [];
      // SQLite limits bound parameters; go in slices.
      for (let i = 0; i < toRemove.length; i += 500) {
        const slice = toRemove.slice(i, i + 500);
        const gone = await tx
          .delete(schema.paths)
          .where(inArray(schema.paths.path, slice))
          .returning({ imageId: schema.paths.imageId });
        if (gone.length > 0) await this.bumpRevision(tx);
        removedIds.push(
          ...(await this.deleteOrphans(
            tx,
            gone.map((g) => g.imageId)
          ))
        );
      }
      return removedIds;
    });
  }

  /** Deletes those of `candidates` that no path refers to any more, logging each removal. */
  private async deleteOrphans(tx: Tx, candidates: number[]): Promise<number[]> {
    const unique = [...new Set(candidates)];
    if (unique.length === 0) return [];
    const stillUsed = await tx
      .select({ imageId: schema.paths.imageId })
      .from(schema.paths)
      .where(inArray(schema.paths.imageId, unique));
    const used = new Set(stillUsed.map((r) => r.imageId));
    const orphans = unique.filter((id) => !used.has(id));
    if (orphans.length === 0) return [];
    await tx.delete(schema.images).where(inArray(schema.images.id, orphans));
    const first = await this.nextSeq(tx, orphans.length);
    await tx
      .insert(schema.removed)
      .values(orphans.map((imageId, i) => ({ seq: first + i, imageId })));
    return orphans;
  }

  async countImages(): Promise<number> {
    const [row] = await this.db.select({ n: sql<number>`count(*)` }).from(schema.images);
    return Number(row?.n ?? 0);
  }

  async idsAfter(afterId: number, limit: number): Promise<number[]> {
    const rows = await this.db
      .select({ id: schema.images.id })
      .from(schema.images)
      .where(gt(schema.images.id, afterId))
      .orderBy(asc(schema.images.id))
      .limit(limit);
    return rows.map((r) => r.id);
  }

  async vectorsOf(ids: readonly number[]) {
    if (ids.length === 0) return [];
    const rows = await this.db
      .select({ id: schema.images.id, vector: schema.images.vector })
      .from(schema.images)
      .where(inArray(schema.images.id, [...ids]));
    return rows.map((r) => ({ id: r.id, vector: fromBlob(r.vector) }));
  }

  async imagesAfter(afterId: number, limit: number) {
    const rows = await this.db
      .select({ ...imageColumns, vector: schema.images.vector })
      .from(schema.images)
      .where(gt(schema.images.id, afterId))
      .orderBy(asc(schema.images.id))
      .limit(limit);
    const withPaths = await this.getImages(rows.map((r) => r.id));
    return rows.map((r) => ({
      ...withPaths.get(r.id)!,
      vector: fromBlob(r.vector)
    }));
  }

  clear(): Promise<void> {
    return this.write(async (tx) => {
      const all = await tx.select({ id: schema.images.id }).from(schema.images);
      await tx.delete(schema.paths);
      await tx.delete(schema.images);
      await this.bumpRevision(tx);
      // Log every removal, so an index snapshot from before the clear catches up correctly.
      for (let i = 0; i < all.length; i += 500) {
        const slice = all.slice(i, i + 500);
        const first = await this.nextSeq(tx, slice.length);
        await tx
          .insert(schema.removed)
          .values(slice.map((r, j) => ({ seq: first + j, imageId: r.id })));
      }
      await tx
        .delete(schema.collection)
        .where(or(eq(schema.collection.key, 'model_id'), eq(schema.collection.key, 'dimension')));
    });
  }

  saveJob(job: JobRecord): Promise<void> {
    return this.write(async (tx) => {
      await tx
        .insert(schema.jobs)
        .values({
          jobId: job.jobId,
          state: job.state,
          createdAt: job.createdAt,
          record: JSON.stringify(job)
        })
        .onConflictDoUpdate({
          target: schema.jobs.jobId,
          set: { state: job.state, record: JSON.stringify(job) }
        });
    });
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const [row] = await this.db.select().from(schema.jobs).where(eq(schema.jobs.jobId, jobId));
    return row ? parseStoredJob(row.record, row.jobId) : undefined;
  }

  async recentJobs(limit: number): Promise<JobRecord[]> {
    const rows = await this.db
      .select()
      .from(schema.jobs)
      .orderBy(desc(schema.jobs.createdAt))
      .limit(limit);
    return rows.map((r) => parseStoredJob(r.record, r.jobId));
  }

  interruptUnfinishedJobs(): Promise<number> {
    return this.write(async (tx) => {
      const rows = await tx
        .select()
        .from(schema.jobs)
        .where(inArray(schema.jobs.state, [...UNFINISHED_JOB_STATES]));
      for (const row of rows) {
        const job = parseStoredJob(row.record, row.jobId);
        const updated = asInterrupted(job);
        await tx
          .update(schema.jobs)
          .set({ state: updated.state, record: JSON.stringify(updated) })
          .where(eq(schema.jobs.jobId, job.jobId));
      }
      return rows.length;
    });
  }

  async close(): Promise<void> {
    await this.writeQueue;
    this.client.close();
  }
}

const imageColumns = {
  id: schema.images.id,
  contentHash: schema.images.contentHash,
  width: schema.images.width,
  height: schema.images.height,
  bytes: schema.images.bytes,
  format: schema.images.format,
  dhash: schema.images.dhash,
  state: schema.images.state
};

async function upsertPaths(tx: Tx, links: readonly PathRecord[]): Promise<void> {
  for (let i = 0; i < links.length; i += 200) {
    await tx
      .insert(schema.paths)
      .values(links.slice(i, i + 200).map((l) => ({ ...l })))
      .onConflictDoUpdate({
        target: schema.paths.path,
        set: {
          imageId: sql`excluded.image_id`,
          size: sql`excluded.size`,
          mtimeMs: sql`excluded.mtime_ms`
        }
      });
  }
}
