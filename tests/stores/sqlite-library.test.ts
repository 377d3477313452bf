import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { SqliteCatalogStore } from '../../server/stores/sqlite/sqlite-catalog';
import { expect, it } from 'vitest';
import { describeLibraryContract, type OldJob } from './library.contract';

const SQLITE_MIGRATIONS = fileURLToPath(
  new URL('../../server/stores/sqlite/migrations', import.meta.url)
);

/** The migrations before the Library (0003_library_folders). */
const BEFORE_LIBRARY = 3;

/** A database migrated to the release before the Library, holding `jobs` (not opened yet). */
async function beforeLibrary(jobs: readonly OldJob[]): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-library-'));
  const file = join(dir, 'catalog.db');
  const old = join(dir, 'migrations');
  await cp(SQLITE_MIGRATIONS, old, { recursive: true });
  const journalFile = join(old, 'meta', '_journal.json');
  const journal = JSON.parse(await readFile(journalFile, 'utf8')) as { entries: unknown[] };
  journal.entries = journal.entries.slice(0, BEFORE_LIBRARY);
  await writeFile(journalFile, JSON.stringify(journal));
  const client = createClient({ url: `file:${file}` });
  try {
    await migrate(drizzle(client), { migrationsFolder: old });
    await client.execute("INSERT INTO collections (name, created_at) VALUES ('named', 1)");
    for (const { jobId, createdAt, ...record } of jobs)
      await client.execute({
        sql: "INSERT INTO jobs (job_id, state, created_at, record) VALUES (?, 'done', ?, ?)",
        args: [jobId, createdAt, JSON.stringify({ jobId, createdAt, state: 'done', ...record })]
      });
  } finally {
    client.close();
  }
  return { dir, file };
}

describeLibraryContract(
  'SQLite',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lookalike-library-'));
    const store = await SqliteCatalogStore.open(join(dir, 'catalog.db'));
    return {
      store,
      cleanup: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    };
  },
  async (jobs: readonly OldJob[]) => {
    const { dir, file } = await beforeLibrary(jobs);
    const store = await SqliteCatalogStore.open(file);
    return {
      store,
      cleanup: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    };
  }
);

it('an upgrade gives the jobs a collection column from their records, and indexes', async () => {
  const { dir, file } = await beforeLibrary([
    { jobId: 'j1', path: '/R/a', recursive: true, collection: 'named', createdAt: 1000 },
    { jobId: 'j2', path: '/R/b', recursive: true, createdAt: 2000 }
  ]);
  try {
    const store = await SqliteCatalogStore.open(file);
    await store.close();
    const client = createClient({ url: `file:${file}` });
    try {
      const rows = await client.execute('SELECT job_id, collection FROM jobs ORDER BY job_id');
      expect(rows.rows.map((r) => [r.job_id, r.collection])).toEqual([
        ['j1', 'named'],
        ['j2', 'default']
      ]);
      const plan = await client.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM jobs WHERE collection = 'named' ORDER BY created_at DESC LIMIT 5"
      );
      expect(JSON.stringify(plan.rows)).toContain('jobs_collection_created');
      const states = await client.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM jobs WHERE state IN ('queued', 'running', 'paused')"
      );
      expect(JSON.stringify(states.rows)).toContain('jobs_state');
    } finally {
      client.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
