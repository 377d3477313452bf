import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@libsql/client';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import type { CatalogDialect } from '../sql/port';
import { defaultCollection, SqlCatalog, SqlCatalogStore } from '../sql/sql-catalog';
import * as schema from './schema';
import { SqliteRows } from './sqlite-rows';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

/**
 * Runs SQLite work: reads straight on the database, and every transaction through one queue
 * (libsql hands each transaction its own connection; serialising them avoids SQLITE_BUSY and is
 * what makes each collection's change sequence commit in order).
 */
class SqliteDialect implements CatalogDialect {
  readonly kind = 'sqlite';
  private writeQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: Client,
    private readonly db: LibSQLDatabase<typeof schema>
  ) {}

  read<T>(work: (rows: SqliteRows) => Promise<T>): Promise<T> {
    return work(new SqliteRows(this.db));
  }

  transaction<T>(work: (rows: SqliteRows) => Promise<T>): Promise<T> {
    const run = this.writeQueue.then(() => this.db.transaction((tx) => work(new SqliteRows(tx))));
    this.writeQueue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.writeQueue;
    this.client.close();
  }
}

/** Opens the file (WAL) and applies the committed migrations. */
async function openDialect(file: string): Promise<SqliteDialect> {
  await mkdir(dirname(file), { recursive: true });
  const client = createClient({ url: `file:${file}` });
  await client.execute('PRAGMA journal_mode = WAL');
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: MIGRATIONS });
  return new SqliteDialect(client, db);
}

/**
 * The embedded catalog database: one SQLite file (WAL) through drizzle, with committed migrations,
 * holding every collection. It holds every vector, so the in-process ANN index is only a cache of
 * it. The algorithms are SqlCatalogStore's and SqlCatalog's; this module opens the file and
 * supplies the SQLite row ops.
 */
export class SqliteCatalogStore extends SqlCatalogStore {
  static async open(file: string): Promise<SqliteCatalogStore> {
    const dialect = await openDialect(file);
    await defaultCollection(dialect);
    return new SqliteCatalogStore(dialect);
  }
}

/**
 * The default collection's catalog on a database of its own: close() closes the file. Today's
 * single-collection entry point (the CLI's migrate command, tests and benchmarks use it).
 */
export class SqliteCatalog extends SqlCatalog {
  static async open(file: string): Promise<SqliteCatalog> {
    const dialect = await openDialect(file);
    const row = await defaultCollection(dialect);
    return new SqliteCatalog(dialect, row.id, row.name, () => dialect.close());
  }
}
