import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import mysql, { type Pool, type PoolConnection } from 'mysql2/promise';
import { UserError, StoreUnavailableError } from '../../errors';
import type { CatalogDialect } from '../sql/port';
import { defaultCollection, SqlCatalog, SqlCatalogStore } from '../sql/sql-catalog';
import { MysqlRows, type MysqlHandle } from './mysql-rows';

export { pathHash } from './mysql-rows';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

type Db = MysqlHandle;

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

/** How long open() waits for another server's migrations to finish. */
const MIGRATION_LOCK_WAIT_S = 120;
/** Pause before the one retry after a connection-level failure (lets a restarting server answer). */
const RETRY_DELAY_MS = 200;

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
 * Runs MySQL work on a mysql2 pool. A connection-level failure (idle disconnect, KILL, server
 * restart) or a deadlock is retried once on a fresh connection, a transaction as a whole. One
 * caveat of any such retry: if the connection died after COMMIT reached the server but before its
 * answer came back, the retried addImages fails on the unique content hash instead of silently
 * adding twice.
 */
class MysqlDialect implements CatalogDialect {
  readonly kind = 'mysql';

  constructor(
    private readonly pool: Pool,
    /** `host:port`, for messages. */
    readonly where: string
  ) {}

  /** Health check: true when a round trip to the server succeeds within `timeoutMs`. */
  async ping(timeoutMs = 5000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([
        this.roundTrip().then(
          () => true,
          () => false
        ),
        timeout
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One round trip to the server (retried once); fails with the explained error. */
  roundTrip(): Promise<void> {
    return this.retrying(() => this.withConnection((conn) => conn.ping()));
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
  read<T>(work: (rows: MysqlRows) => Promise<T>): Promise<T> {
    return this.retrying(() => this.withConnection((_, db) => work(new MysqlRows(db))));
  }

  /** One transaction, retried once as a whole on a connection-level failure or deadlock. */
  transaction<T>(work: (rows: MysqlRows) => Promise<T>): Promise<T> {
    return this.inTransaction((db) => work(new MysqlRows(db)));
  }

  private inTransaction<T>(work: (db: Db) => Promise<T>): Promise<T> {
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

  /** Closes the pool (waits for connections in use to be released). */
  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * The scale-out catalog database: MySQL 8 / MariaDB 10.5+ (InnoDB; tested on MariaDB 10.11)
 * through drizzle and a mysql2 pool, with its own committed drizzle-kit migrations, holding every
 * collection. The algorithms are SqlCatalogStore's and SqlCatalog's (the same as SQLite's); this
 * module connects, migrates, retries and supplies the MySQL row ops.
 */
export class MysqlCatalogStore extends SqlCatalogStore {
  private constructor(private readonly mysql: MysqlDialect) {
    super(mysql);
  }

  /** `host:port`, for messages. */
  get where(): string {
    return this.mysql.where;
  }

  /** Health check: true when a round trip to the server succeeds within `timeoutMs`. */
  override ping(timeoutMs = 5000): Promise<boolean> {
    return this.mysql.ping(timeoutMs);
  }

  /** As MysqlCatalog.open, for the whole database. */
  static async open(url: string, options: MysqlCatalogOptions = {}): Promise<MysqlCatalogStore> {
    const dialect = await openDialect(url, options);
    try {
      await defaultCollection(dialect);
    } catch (error) {
      await dialect.close().catch(() => undefined);
      throw error;
    }
    return new MysqlCatalogStore(dialect);
  }
}

/**
 * The default collection's catalog on a pool of its own: close() closes the pool. Today's
 * single-collection entry point (the CLI's migrate command and tests use it).
 */
export class MysqlCatalog extends SqlCatalog {
  private constructor(
    private readonly mysql: MysqlDialect,
    collection: { id: number; name: string }
  ) {
    super(mysql, collection.id, collection.name, () => mysql.close());
  }

  /** `host:port`, for messages. */
  get where(): string {
    return this.mysql.where;
  }

  /** Health check: true when a round trip to the server succeeds within `timeoutMs`. */
  ping(timeoutMs = 5000): Promise<boolean> {
    return this.mysql.ping(timeoutMs);
  }

  /**
   * Connects to `mysql://user:password@host:port/database[?options]`, creates the database if it
   * is missing (utf8mb4, binary collation), applies pending migrations and opens the pool.
   */
  static async open(url: string, options: MysqlCatalogOptions = {}): Promise<MysqlCatalog> {
    const dialect = await openDialect(url, options);
    try {
      return new MysqlCatalog(dialect, await defaultCollection(dialect));
    } catch (error) {
      await dialect.close().catch(() => undefined);
      throw error;
    }
  }
}

/** Checks the URL, creates and migrates the database if needed (prepareDatabase), opens the pool. */
async function openDialect(url: string, options: MysqlCatalogOptions): Promise<MysqlDialect> {
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
  const dialect = new MysqlDialect(pool, where);
  try {
    await dialect.roundTrip();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return dialect;
}

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
    } finally {
      await db.execute(sql`SELECT RELEASE_LOCK(${lock})`);
    }
  } finally {
    await conn.end().catch(() => undefined);
  }
}
