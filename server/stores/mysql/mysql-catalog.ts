import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { asc, desc, eq, gt, inArray, or, sql } from 'drizzle-orm';
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import mysql, { type Pool, type PoolConnection } from 'mysql2/promise';
import { UserError, StoreUnavailableError } from '../../errors';
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

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

/** A drizzle handle bound to one connection (a pooled one, or the one used for migrations). */
type Db = MySql2Database;

/**
 * The database server cannot be reached (after the one retry): a 503 over HTTP, one line in the
 * CLI; `code` is `store_unavailable`, which start-up and the indexer treat as "wait and retry".
 */
export { StoreUnavailableError };

export interface MysqlCatalogOptions {
  /** How long to wait for a new connection (default 10 s, mysql2's default). */
  connectTimeoutMs?: number;
  /** Pool size (default 10). */
  connectionLimit?: number;
}

/**
 * Every connection runs with a fixed sql_mode: strict (an over-long value is an error, never a
 * silent truncation that would break the path ↔ path_hash pairing), and without
 * NO_BACKSLASH_ESCAPES (mysql2 escapes parameters with backslashes).
 */
const SESSION_SQL_MODE = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO';

/** Rows per multi-row INSERT: 100 × a 2048-d vector (16 KiB escaped) stays far below max_allowed_packet. */
const INSERT_CHUNK = 100;
/** Values per IN (…) list. */
const IN_CHUNK = 1000;
/** How long open() waits for another server's migrations to finish. */
const MIGRATION_LOCK_WAIT_S = 120;
/** Pause before the one retry after a connection-level failure (lets a restarting server answer). */
const RETRY_DELAY_MS = 200;

/** SHA-256 hex of the path's UTF-8 bytes: the key of `paths` (a 4096-byte path is too long to be one). */
export const pathHash = (path: string) => createHash('sha256').update(path, 'utf8').digest('hex');

function* chunks<T>(list: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < list.length; i += size) yield list.slice(i, i + size);
}

/** mysql2 error codes (and MariaDB errnos it has no name for) that mean "the connection is gone". */
const CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ER_SERVER_SHUTDOWN',
  'ER_CLIENT_INTERACTION_TIMEOUT',
  'ER_CONNECTION_KILLED'
]);
/** 1053 server shutdown, 1927 MariaDB "Connection was killed", 4031 MySQL idle timeout. */
const CONNECTION_ERRNOS = new Set([1053, 1927, 4031]);

interface DriverError {
  code?: unknown;
  errno?: unknown;
  fatal?: unknown;
  sqlMessage?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** The driver's error under drizzle's DrizzleQueryError (which carries the SQL and parameters). */
function driverError(error: unknown): DriverError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const e = current as DriverError;
    if (e.code !== undefined || e.errno !== undefined || e.fatal !== undefined) return e;
    current = e.cause;
  }
  return current && typeof current === 'object' ? (current as DriverError) : undefined;
}

/**
 * Whether `error` means the connection (or the server) went away, so the operation can be retried
 * on a new connection: idle disconnects, KILL, server restarts. `Pool is closed.` (our own close)
 * is not one.
 */
export function isConnectionError(error: unknown): boolean {
  const e = driverError(error);
  if (!e) return false;
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  if (typeof e.errno === 'number' && CONNECTION_ERRNOS.has(e.errno)) return true;
  // "Can't add new command when connection is in closed state": fatal, and not from the server.
  return e.fatal === true && e.errno === undefined && e.code === undefined;
}

/** InnoDB rolled the whole transaction back to break a deadlock: running it again is safe. */
function isDeadlock(error: unknown): boolean {
  const e = driverError(error);
  return e?.code === 'ER_LOCK_DEADLOCK' || e?.errno === 1213;
}

function errorCode(error: unknown): string {
  const e = driverError(error);
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.errno === 'number') return `errno ${e.errno}`;
  return typeof e?.message === 'string' ? e.message : String(error);
}

/** `host:port` of a mysql:// URL, for messages (never the credentials). */
function serverAddress(url: URL): string {
  const host = url.hostname.startsWith('[') ? url.hostname : url.hostname || 'localhost';
  return `${host}:${url.port || '3306'}`;
}

/** Turns a driver failure into something the person can act on; other errors pass through. */
function explain(error: unknown, where: string): unknown {
  if (error instanceof UserError) return error;
  if (isConnectionError(error)) {
    return new StoreUnavailableError(`MySQL at ${where} is unreachable (${errorCode(error)})`, {
      cause: error
    });
  }
  const e = driverError(error);
  if (e?.code === 'ER_CON_COUNT_ERROR') {
    return new StoreUnavailableError(
      `MySQL at ${where} has too many connections (ER_CON_COUNT_ERROR)`,
      {
        cause: error
      }
    );
  }
  // MariaDB answers an unknown user with 1698 (…_NO_PASSWORD_ERROR) where MySQL says 1045.
  if (
    e?.code === 'ER_ACCESS_DENIED_ERROR' ||
    e?.code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR' ||
    e?.code === 'ER_DBACCESS_DENIED_ERROR'
  ) {
    // Not "unavailable": waiting will not fix credentials, so start-up should not retry it.
    return new UserError(
      `MySQL at ${where} refused the login (${e.code}): ${String(e.sqlMessage ?? e.message)}`,
      { cause: error }
    );
  }
  return error;
}

/**
 * The change sequence, held for the rest of a write transaction: the `seq` row of `collection`
 * is locked first by every transaction that touches images or paths, so change numbers are
 * committed in order (a reader never sees seq 6 before seq 5 exists) and those transactions
 * always take their locks in the same order (no deadlock between them).
 */
class SeqCounter {
  constructor(
    private readonly db: Db,
    private current: number
  ) {}

  static async lock(db: Db): Promise<SeqCounter> {
    const read = () =>
      db
        .select({ value: schema.collection.value })
        .from(schema.collection)
        .where(eq(schema.collection.key, 'seq'))
        .for('update');
    let [row] = await read();
    if (!row) {
      // Seeded at open; this is only for a row someone deleted by hand.
      await db.insert(schema.collection).ignore().values({ key: 'seq', value: '0' });
      [row] = await read();
    }
    return new SeqCounter(db, Number(row?.value ?? 0));
  }

  /** Reserves `count` consecutive change numbers; returns the first. */
  async take(count: number): Promise<number> {
    const first = this.current + 1;
    this.current += count;
    await this.db
      .update(schema.collection)
      .set({ value: String(this.current) })
      .where(eq(schema.collection.key, 'seq'));
    return first;
  }
}

/**
 * The scale-out catalog: MySQL 8 / MariaDB 10.5+ (InnoDB; tested on MariaDB 10.11) through drizzle
 * and a mysql2 pool, with its own committed drizzle-kit migrations. Same semantics as
 * SqliteCatalog. A connection-level failure (idle disconnect, KILL, server restart) or a deadlock
 * is retried once on a fresh connection, a transaction as a whole. One caveat of any such retry:
 * if the connection died after COMMIT reached the server but before its answer came back, the
 * retried addImages fails on the unique content hash instead of silently adding twice.
 */
export class MysqlCatalog implements Catalog {
  readonly kind = 'mysql';

  private constructor(
    private readonly pool: Pool,
    /** `host:port`, for messages. */
    readonly where: string
  ) {}

  /**
   * Connects to `mysql://user:password@host:port/database[?options]`, creates the database if it
   * is missing (utf8mb4, binary collation), applies pending migrations and opens the pool.
   */
  static async open(url: string, options: MysqlCatalogOptions = {}): Promise<MysqlCatalog> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UserError(
        'The MySQL URL is not a URL (expected mysql://user:password@host:3306/lookalike).'
      );
    }
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (!/^[A-Za-z0-9_$-]{1,64}$/.test(database)) {
      throw new UserError(
        database
          ? `The MySQL database name "${database}" is not allowed: use letters, digits, _, $ or - (at most 64).`
          : 'The MySQL URL must name a database, e.g. mysql://user:password@host:3306/lookalike.'
      );
    }
    const where = serverAddress(parsed);
    const server = new URL(parsed.href);
    server.pathname = '/';
    const connectTimeout = options.connectTimeoutMs;

    try {
      await prepareDatabase(server.href, database, connectTimeout);
    } catch (error) {
      throw explain(error, where);
    }

    const pool = mysql.createPool({
      uri: parsed.href,
      database,
      connectionLimit: options.connectionLimit ?? 10,
      waitForConnections: true,
      queueLimit: 0,
      // Idle connections are closed after a minute (before any server or firewall idle limit),
      // and TCP keep-alive notices a dead peer while one is idle.
      maxIdle: 2,
      idleTimeout: 60_000,
      enableKeepAlive: true,
      keepAliveInitialDelay: 10_000,
      charset: 'utf8mb4',
      ...(connectTimeout === undefined ? {} : { connectTimeout })
    });
    // Runs before anything else on each new connection (commands queue in order).
    pool.pool.on('connection', (connection) => {
      connection.query('SET SESSION sql_mode = ?', [SESSION_SQL_MODE], (error) => {
        if (error) connection.destroy();
      });
    });
    const catalog = new MysqlCatalog(pool, where);
    try {
      await catalog.retrying(() => catalog.withConnection((conn) => conn.ping()));
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return catalog;
  }

  /** Health check: true when a round trip to the server succeeds within `timeoutMs`. */
  async ping(timeoutMs = 5000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([
        this.retrying(() => this.withConnection((conn) => conn.ping())).then(
          () => true,
          () => false
        ),
        timeout
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs `op`, and once more after a connection-level failure or a deadlock. */
  private async retrying<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (!isConnectionError(error) && !isDeadlock(error)) throw explain(error, this.where);
      await delay(RETRY_DELAY_MS);
      try {
        return await op();
      } catch (again) {
        throw explain(again, this.where);
      }
    }
  }

  /** Lends a pooled connection; one that failed at the connection level is destroyed, not reused. */
  private async withConnection<T>(work: (conn: PoolConnection, db: Db) => Promise<T>): Promise<T> {
    const conn = await this.pool.getConnection();
    try {
      const result = await work(conn, drizzle({ client: conn }));
      conn.release();
      return result;
    } catch (error) {
      if (isConnectionError(error)) conn.destroy();
      else conn.release();
      throw error;
    }
  }

  /** A read (or a single statement), retried once on a connection-level failure. */
  private read<T>(work: (db: Db) => Promise<T>): Promise<T> {
    return this.retrying(() => this.withConnection((_, db) => work(db)));
  }

  /** One transaction, retried once as a whole on a connection-level failure or deadlock. */
  private transaction<T>(work: (db: Db) => Promise<T>): Promise<T> {
    return this.retrying(() =>
      this.withConnection(async (_, db) => {
        await db.execute(sql`START TRANSACTION`);
        try {
          const result = await work(db);
          await db.execute(sql`COMMIT`);
          return result;
        } catch (error) {
          // On a dead connection this fails too; the original error is the one that matters.
          await db.execute(sql`ROLLBACK`).catch(() => undefined);
          throw error;
        }
      })
    );
  }

  /** A transaction that may change images, paths or the collection: holds the seq lock first. */
  private write<T>(work: (db: Db, seq: SeqCounter) => Promise<T>): Promise<T> {
    return this.transaction(async (db) => work(db, await SeqCounter.lock(db)));
  }

  async contentRevision(): Promise<string> {
    const rows = await this.read((db) =>
      db
        .select()
        .from(schema.collection)
        .where(inArray(schema.collection.key, [REVISION_KEYS.counter, REVISION_KEYS.epoch]))
    );
    return revisionFromFacts(rows);
  }

  async latestSeq(): Promise<number> {
    const [row] = await this.read((db) =>
      db
        .select({ value: schema.collection.value })
        .from(schema.collection)
        .where(eq(schema.collection.key, 'seq'))
    );
    return row ? Number(row.value) : 0;
  }

  async collectionModel() {
    const rows = await this.read((db) => db.select().from(schema.collection));
    return modelFromFacts(rows);
  }

  async claimCollection(model: CollectionModel): Promise<void> {
    await this.write(async (db) => {
      const existing = modelFromFacts(await db.select().from(schema.collection));
      if (existing) assertSameModel(existing, model);
      else await db.insert(schema.collection).values(modelFacts(model));
    });
  }

  async getPath(path: string): Promise<PathRecord | undefined> {
    const [row] = await this.read((db) =>
      db
        .select(pathColumns)
        .from(schema.paths)
        .where(eq(schema.paths.pathHash, pathHash(path)))
    );
    return row;
  }

  getPaths(list: readonly string[]): Promise<Map<string, PathRecord>> {
    return this.read(async (db) => {
      const found = new Map<string, PathRecord>();
      for (const chunk of chunks(list, IN_CHUNK)) {
        const rows = await db
          .select(pathColumns)
          .from(schema.paths)
          .where(inArray(schema.paths.pathHash, chunk.map(pathHash)));
        for (const row of rows) found.set(row.path, row);
      }
      return found;
    });
  }

  findImagesByHashes(hashes: readonly string[]): Promise<Map<string, ImageRecord>> {
    return this.read(async (db) => {
      const found = new Map<string, ImageRecord>();
      for (const chunk of chunks(hashes, IN_CHUNK)) {
        const rows = await db
          .select(imageColumns)
          .from(schema.images)
          .where(inArray(schema.images.contentHash, chunk));
        for (const row of rows) found.set(row.contentHash, row);
      }
      return found;
    });
  }

  async findImageByHash(contentHash: string): Promise<ImageRecord | undefined> {
    const [row] = await this.read((db) =>
      db.select(imageColumns).from(schema.images).where(eq(schema.images.contentHash, contentHash))
    );
    return row;
  }

  getImages(ids: readonly number[]): Promise<Map<number, ImageWithPaths>> {
    if (ids.length === 0) return Promise.resolve(new Map());
    return this.read((db) => imagesWithPaths(db, ids));
  }

  addImages(newImages: readonly NewImage[]): Promise<{ ids: number[]; removedIds: number[] }> {
    if (newImages.length === 0) return Promise.resolve({ ids: [], removedIds: [] });
    return this.write(async (db, seq) => {
      const previous = [
        ...(
          await imagesOfPaths(
            db,
            newImages.map((img) => img.file.path)
          )
        ).values()
      ];
      const first = await seq.take(newImages.length);
      await bumpRevision(db);
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
      for (const chunk of chunks(rows, INSERT_CHUNK)) await db.insert(schema.images).values(chunk);
      // Read the ids back by content hash rather than trusting insertId + n: with
      // auto_increment_increment > 1 (Galera) the ids of one INSERT are not consecutive.
      const idByHash = new Map<string, number>();
      for (const chunk of chunks(newImages, IN_CHUNK)) {
        const found = await db
          .select({ id: schema.images.id, contentHash: schema.images.contentHash })
          .from(schema.images)
          .where(
            inArray(
              schema.images.contentHash,
              chunk.map((img) => img.contentHash)
            )
          );
        for (const r of found) idByHash.set(r.contentHash, r.id);
      }
      const ids = newImages.map((img) => idByHash.get(img.contentHash)!);
      await upsertPaths(
        db,
        newImages.map((img, i) => ({ ...img.file, imageId: ids[i]! }))
      );
      // A changed file may have left its old picture without any path.
      return { ids, removedIds: await deleteOrphans(db, seq, previous) };
    });
  }

  linkPaths(links: readonly PathRecord[]): Promise<number[]> {
    if (links.length === 0) return Promise.resolve([]);
    return this.write(async (db, seq) => {
      const previous = await imagesOfPaths(
        db,
        links.map((l) => l.path)
      );
      await upsertPaths(db, links);
      // Refreshing a file's size and mtime changes nothing an offline snapshot lists.
      if (links.some((l) => previous.get(l.path) !== l.imageId)) await bumpRevision(db);
      return deleteOrphans(db, seq, [...previous.values()]);
    });
  }

  markIndexed(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.transaction(async (db) => {
      for (const chunk of chunks(ids, IN_CHUNK)) {
        await db
          .update(schema.images)
          .set({ state: 'indexed' })
          .where(inArray(schema.images.id, chunk));
      }
    });
  }

  async pendingImages(limit: number) {
    const rows = await this.read((db) =>
      db
        .select({ id: schema.images.id, vector: schema.images.vector })
        .from(schema.images)
        .where(eq(schema.images.state, 'pending'))
        .orderBy(asc(schema.images.id))
        .limit(limit)
    );
    return rows.map((r) => ({ id: r.id, vector: fromBlob(r.vector) }));
  }

  async vectorsChangedSince(afterSeq: number, limit: number) {
    const rows = await this.read((db) =>
      db
        .select({ id: schema.images.id, seq: schema.images.seq, vector: schema.images.vector })
        .from(schema.images)
        .where(gt(schema.images.seq, afterSeq))
        .orderBy(asc(schema.images.seq))
        .limit(limit)
    );
    return rows.map((r) => ({ id: r.id, seq: r.seq, vector: fromBlob(r.vector) }));
  }

  async removedSince(afterSeq: number): Promise<number[]> {
    const rows = await this.read((db) =>
      db
        .select({ imageId: schema.removed.imageId })
        .from(schema.removed)
        .where(gt(schema.removed.seq, afterSeq))
        .orderBy(asc(schema.removed.seq))
    );
    return rows.map((r) => r.imageId);
  }

  /**
   * `path_hash = hash(root) OR root/ <= path < root0` (see pathsBelow). Cost: the range is a range
   * scan on the 255-byte prefix index `paths_path_prefix` (migration 0002), so it reads only the
   * rows under the root (for roots longer than 255 bytes, those sharing its first 255).
   */
  pathsUnder(root: string): Promise<PathRecord[]> {
    return this.read((db) =>
      db
        .select(pathColumns)
        .from(schema.paths)
        .where(or(eq(schema.paths.pathHash, pathHash(root)), pathsBelow(schema.paths.path, root)))
    );
  }

  removePaths(toRemove: readonly string[]): Promise<number[]> {
    if (toRemove.length === 0) return Promise.resolve([]);
    return this.write(async (db, seq) => {
      const removedIds: number[] = [];
      for (const slice of chunks(toRemove, IN_CHUNK)) {
        const hashes = slice.map(pathHash);
        // No other writer can touch these rows meanwhile: they all hold the seq lock first.
        const gone = await db
          .select({ imageId: schema.paths.imageId })
          .from(schema.paths)
          .where(inArray(schema.paths.pathHash, hashes));
        if (gone.length === 0) continue;
        await db.delete(schema.paths).where(inArray(schema.paths.pathHash, hashes));
        await bumpRevision(db);
        removedIds.push(
          ...(await deleteOrphans(
            db,
            seq,
            gone.map((g) => g.imageId)
          ))
        );
      }
      return removedIds;
    });
  }

  async countImages(): Promise<number> {
    const [row] = await this.read((db) =>
      db.select({ n: sql<number>`count(*)` }).from(schema.images)
    );
    return Number(row?.n ?? 0);
  }

  async idsAfter(afterId: number, limit: number): Promise<number[]> {
    const rows = await this.read((db) =>
      db
        .select({ id: schema.images.id })
        .from(schema.images)
        .where(gt(schema.images.id, afterId))
        .orderBy(asc(schema.images.id))
        .limit(limit)
    );
    return rows.map((r) => r.id);
  }

  async vectorsOf(ids: readonly number[]) {
    if (ids.length === 0) return [];
    const rows = await this.read((db) =>
      db
        .select({ id: schema.images.id, vector: schema.images.vector })
        .from(schema.images)
        .where(inArray(schema.images.id, [...ids]))
    );
    return rows.map((r) => ({ id: r.id, vector: fromBlob(r.vector) }));
  }

  imagesAfter(afterId: number, limit: number) {
    return this.read(async (db) => {
      const rows = await db
        .select({ id: schema.images.id, vector: schema.images.vector })
        .from(schema.images)
        .where(gt(schema.images.id, afterId))
        .orderBy(asc(schema.images.id))
        .limit(limit);
      const withPaths = await imagesWithPaths(
        db,
        rows.map((r) => r.id)
      );
      return rows.flatMap((r) => {
        const image = withPaths.get(r.id);
        return image ? [{ ...image, vector: fromBlob(r.vector) }] : [];
      });
    });
  }

  /**
   * One transaction, like every write: on a very large collection it deletes every row at once
   * (and logs every removal), so it holds its locks for a while.
   */
  clear(): Promise<void> {
    return this.write(async (db, seq) => {
      const all = await db
        .select({ id: schema.images.id })
        .from(schema.images)
        .orderBy(asc(schema.images.id));
      await db.delete(schema.paths);
      await db.delete(schema.images);
      await bumpRevision(db);
      // Log every removal, so an index snapshot from before the clear catches up correctly.
      for (const slice of chunks(all, IN_CHUNK)) {
        const first = await seq.take(slice.length);
        await db
          .insert(schema.removed)
          .values(slice.map((r, j) => ({ seq: first + j, imageId: r.id })));
      }
      await db
        .delete(schema.collection)
        .where(inArray(schema.collection.key, ['model_id', 'dimension']));
    });
  }

  saveJob(job: JobRecord): Promise<void> {
    const record = JSON.stringify(job);
    return this.transaction(async (db) => {
      await db
        .insert(schema.jobs)
        .values({ jobId: job.jobId, state: job.state, createdAt: job.createdAt, record })
        .onDuplicateKeyUpdate({ set: { state: job.state, record } });
    });
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const [row] = await this.read((db) =>
      db.select().from(schema.jobs).where(eq(schema.jobs.jobId, jobId))
    );
    return row ? parseStoredJob(row.record, row.jobId) : undefined;
  }

  async recentJobs(limit: number): Promise<JobRecord[]> {
    const rows = await this.read((db) =>
      db.select().from(schema.jobs).orderBy(desc(schema.jobs.createdAt)).limit(limit)
    );
    return rows.map((r) => parseStoredJob(r.record, r.jobId));
  }

  interruptUnfinishedJobs(): Promise<number> {
    return this.transaction(async (db) => {
      const rows = await db
        .select()
        .from(schema.jobs)
        .where(inArray(schema.jobs.state, [...UNFINISHED_JOB_STATES]))
        .for('update');
      for (const row of rows) {
        const job = parseStoredJob(row.record, row.jobId);
        const updated = asInterrupted(job);
        await db
          .update(schema.jobs)
          .set({ state: updated.state, record: JSON.stringify(updated) })
          .where(eq(schema.jobs.jobId, job.jobId));
      }
      return rows.length;
    });
  }

  /** Closes the pool (waits for connections in use to be released). */
  async close(): Promise<void> {
    await this.pool.end();
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

const pathColumns = {
  path: schema.paths.path,
  imageId: schema.paths.imageId,
  size: schema.paths.size,
  mtimeMs: schema.paths.mtimeMs
};

/**
 * Creates the database if missing and applies pending migrations, on one connection of its own
 * (drizzle advises against running DDL migrations through a pool). A named lock keeps two
 * servers starting at once from both applying the same migration.
 */
async function prepareDatabase(
  serverUrl: string,
  database: string,
  connectTimeout: number | undefined
): Promise<void> {
  const conn = await mysql.createConnection({
    uri: serverUrl,
    charset: 'utf8mb4',
    ...(connectTimeout === undefined ? {} : { connectTimeout })
  });
  try {
    const db: Db = drizzle({ client: conn });
    await db.execute(sql`SET SESSION sql_mode = ${SESSION_SQL_MODE}`);
    // Only create when missing: a user with rights on its own database but no CREATE privilege
    // on the server can still open an existing one.
    const [existing] = (await db.execute(
      sql`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${database}`
    )) as unknown as [unknown[]];
    if (existing.length === 0) {
      await db.execute(
        sql`CREATE DATABASE IF NOT EXISTS ${sql.identifier(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`
      );
    }
    await db.execute(sql`USE ${sql.identifier(database)}`);
    // Lock names are limited to 64 characters; a database name alone may use all of them.
    const lock = `lookalike_migrate_${createHash('sha256').update(database).digest('hex').slice(0, 40)}`;
    const [[got]] = (await db.execute(
      sql`SELECT GET_LOCK(${lock}, ${MIGRATION_LOCK_WAIT_S}) AS got`
    )) as unknown as [[{ got: number | null } | undefined]];
    if (got?.got !== 1) {
      throw new StoreUnavailableError(
        `MySQL database "${database}" is being migrated by another server (waited ${MIGRATION_LOCK_WAIT_S} s); try again.`
      );
    }
    try {
      await migrate(db, { migrationsFolder: MIGRATIONS });
      await db.insert(schema.collection).ignore().values({ key: 'seq', value: '0' });
    } finally {
      await db.execute(sql`SELECT RELEASE_LOCK(${lock})`);
    }
  } finally {
    await conn.end().catch(() => undefined);
  }
}

async function imagesWithPaths(
  db: Db,
  ids: readonly number[]
): Promise<Map<number, ImageWithPaths>> {
  const result = new Map<number, ImageWithPaths>();
  for (const chunk of chunks(ids, IN_CHUNK)) {
    const rows = await db
      .select(imageColumns)
      .from(schema.images)
      .where(inArray(schema.images.id, chunk));
    for (const row of rows) result.set(row.id, { ...row, paths: [] });
  }
  const links: { imageId: number; path: string }[] = [];
  for (const chunk of chunks(ids, IN_CHUNK)) {
    links.push(
      ...(await db
        .select({ imageId: schema.paths.imageId, path: schema.paths.path })
        .from(schema.paths)
        .where(inArray(schema.paths.imageId, chunk)))
    );
  }
  // By UTF-8 bytes (code points), like SQLite's BINARY collation and utf8mb4_bin.
  links.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  for (const link of links) result.get(link.imageId)?.paths.push(link.path);
  return result;
}

/** The image each of these paths points at now (paths not known are left out). */
async function imagesOfPaths(db: Db, list: readonly string[]): Promise<Map<string, number>> {
  const images = new Map<string, number>();
  for (const chunk of chunks(list, IN_CHUNK)) {
    const rows = await db
      .select({ path: schema.paths.path, imageId: schema.paths.imageId })
      .from(schema.paths)
      .where(inArray(schema.paths.pathHash, chunk.map(pathHash)));
    for (const row of rows) images.set(row.path, row.imageId);
  }
  return images;
}

async function upsertPaths(db: Db, links: readonly PathRecord[]): Promise<void> {
  for (const chunk of chunks(links, INSERT_CHUNK)) {
    await db
      .insert(schema.paths)
      .values(
        chunk.map((l) => ({
          pathHash: pathHash(l.path),
          path: l.path,
          imageId: l.imageId,
          size: l.size,
          mtimeMs: l.mtimeMs
        }))
      )
      .onDuplicateKeyUpdate({
        set: {
          imageId: sql`VALUES(${schema.paths.imageId})`,
          size: sql`VALUES(${schema.paths.size})`,
          mtimeMs: sql`VALUES(${schema.paths.mtimeMs})`
        }
      });
  }
}

/**
 * Moves contentRevision() on. Only called inside write(), which holds the seq row lock, so two
 * transactions never race on it.
 */
async function bumpRevision(db: Db): Promise<void> {
  await db
    .insert(schema.collection)
    .ignore()
    .values({ key: REVISION_KEYS.epoch, value: randomUUID() });
  await db
    .insert(schema.collection)
    .values({ key: REVISION_KEYS.counter, value: '1' })
    .onDuplicateKeyUpdate({
      set: { value: sql`CAST(${schema.collection.value} AS UNSIGNED) + 1` }
    });
}

/** Deletes those of `candidates` that no path refers to any more, logging each removal. */
async function deleteOrphans(db: Db, seq: SeqCounter, candidates: number[]): Promise<number[]> {
  const unique = [...new Set(candidates)];
  if (unique.length === 0) return [];
  const orphans: number[] = [];
  for (const chunk of chunks(unique, IN_CHUNK)) {
    const stillUsed = await db
      .select({ imageId: schema.paths.imageId })
      .from(schema.paths)
      .where(inArray(schema.paths.imageId, chunk));
    const used = new Set(stillUsed.map((r) => r.imageId));
    orphans.push(...chunk.filter((id) => !used.has(id)));
  }
  if (orphans.length === 0) return [];
  for (const chunk of chunks(orphans, IN_CHUNK)) {
    await db.delete(schema.images).where(inArray(schema.images.id, chunk));
    const first = await seq.take(chunk.length);
    await db
      .insert(schema.removed)
      .values(chunk.map((imageId, i) => ({ seq: first + i, imageId })));
  }
  return orphans;
}
