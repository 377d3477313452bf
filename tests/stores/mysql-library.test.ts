import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import { describe, expect, it } from 'vitest';
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

/** A database migrated to the release before the Library, holding `jobs`; its URL. */
async function beforeLibrary(jobs: readonly OldJob[]): Promise<string> {
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
  return url;
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
      const url = await beforeLibrary(jobs);
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

  it('an upgrade gives the jobs a collection column from their records, and indexes', async () => {
    const url = await beforeLibrary([
      { jobId: 'j1', path: '/R/a', recursive: true, collection: 'named', createdAt: 1000 },
      { jobId: 'j2', path: '/R/b', recursive: true, createdAt: 2000 }
    ]);
    try {
      await (await MysqlCatalogStore.open(url)).close();
      const conn = await adminConnection();
      try {
        await conn.query('USE ??', [databaseOf(url)]);
        const [rows] = await conn.query('SELECT job_id, collection FROM jobs ORDER BY job_id');
        expect(rows).toEqual([
          { job_id: 'j1', collection: 'named' },
          { job_id: 'j2', collection: 'default' }
        ]);
        const [indexes] = await conn.query(
          "SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'jobs' ORDER BY name",
          [databaseOf(url)]
        );
        expect(indexes).toEqual(
          expect.arrayContaining([{ name: 'jobs_collection_created' }, { name: 'jobs_state' }])
        );
      } finally {
        await conn.end();
      }
    } finally {
      await dropDatabase(url);
    }
  });
});
