import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import { describe } from 'vitest';
import { MysqlCatalogStore } from '../../server/stores/mysql/mysql-catalog';
import {
  adminConnection,
  databaseOf,
  dropDatabase,
  mysqlReachable,
  mysqlTestServerAddress,
  mysqlTestUrl
} from '../helpers/mysql';
import { describeLibraryContract, type OldJob } from './library.contract';

const MYSQL_MIGRATIONS = fileURLToPath(
  new URL('../../server/stores/mysql/migrations', import.meta.url)
);

/** The migrations before the Library (0005_library_folders). */
const BEFORE_LIBRARY = 5;

const reachable = await mysqlReachable();
if (!reachable) {
  console.warn(
    `MySQL Library tests SKIPPED: no MySQL/MariaDB at ${mysqlTestServerAddress()}. Point ` +
      'LOOKALIKE_TEST_MYSQL_URL at a server where the user may create and drop databases.'
  );
}

describe.runIf(reachable)('MySQL Library', () => {
  describeLibraryContract(
    'MySQL',
    async () => {
      const url = mysqlTestUrl();
      const store = await MysqlCatalogStore.open(url);
      return {
        store,
        cleanup: async () => {
          await store.close();
          await dropDatabase(url);
        }
      };
    },
    async (jobs: readonly OldJob[]) => {
      const url = mysqlTestUrl();
      const old = await mkdtemp(join(tmpdir(), 'lookalike-migrations-'));
      try {
        await cp(MYSQL_MIGRATIONS, old, { recursive: true });
        const journalFile = join(old, 'meta', '_journal.json');
        const journal = JSON.parse(await readFile(journalFile, 'utf8')) as { entries: unknown[] };
        journal.entries = journal.entries.slice(0, BEFORE_LIBRARY);
        await writeFile(journalFile, JSON.stringify(journal));
        const conn = await adminConnection();
        try {
          await conn.query('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_bin', [
            databaseOf(url)
          ]);
          await conn.query('USE ??', [databaseOf(url)]);
          await migrate(drizzle({ client: conn }), { migrationsFolder: old });
          await conn.query("INSERT INTO collections (name, created_at) VALUES ('named', 1)");
          for (const { jobId, createdAt, ...record } of jobs)
            await conn.query(
              "INSERT INTO jobs (job_id, state, created_at, record) VALUES (?, 'done', ?, ?)",
              [jobId, createdAt, JSON.stringify({ jobId, createdAt, state: 'done', ...record })]
            );
        } finally {
          await conn.end();
        }
      } finally {
        await rm(old, { recursive: true, force: true });
      }
      const store = await MysqlCatalogStore.open(url);
      return {
        store,
        cleanup: async () => {
          await store.close();
          await dropDatabase(url);
        }
      };
    }
  );
});
