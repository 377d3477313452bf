import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { expect, it } from 'vitest';
import { SqliteCatalog, SqliteCatalogStore } from '../../server/stores/sqlite/sqlite-catalog';
import { describeCatalogContract, newImage } from './catalog.contract';
import {
  describeCollectionsContract,
  describeUpgradeFromBeforeCollections,
  migrationsBefore
} from './collections.contract';
import { describeJobStoreContract } from './job-store.contract';

const SQLITE_MIGRATIONS = fileURLToPath(
  new URL('../../server/stores/sqlite/migrations', import.meta.url)
);

async function freshCatalog() {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-catalog-'));
  const file = join(dir, 'catalog.db');
  const catalog = await SqliteCatalog.open(file);
  return {
    file,
    catalog,
    cleanup: async () => {
      await catalog.close();
      await rm(dir, { recursive: true, force: true });
    }
  };
}

describeCatalogContract('SQLite', freshCatalog);

describeJobStoreContract('SQLite', async () => {
  const { file, catalog, cleanup } = await freshCatalog();
  return {
    jobs: catalog.jobStore(),
    catalog,
    cleanup,
    writeRaw: async (jobId, state, record) => {
      const client = createClient({ url: `file:${file}` });
      try {
        await client.execute({
          sql: 'INSERT INTO jobs (job_id, state, created_at, record) VALUES (?, ?, 1, ?)',
          args: [jobId, state, record]
        });
      } finally {
        client.close();
      }
    }
  };
});

it('keeps committed data across a reopen (migrations run once)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-catalog-'));
  try {
    const first = await SqliteCatalog.open(join(dir, 'catalog.db'));
    await first.addImages([newImage(7, '/p/a.jpg')]);
    await first.close();
    const second = await SqliteCatalog.open(join(dir, 'catalog.db'));
    expect(await second.countImages()).toBe(1);
    expect(Array.from((await second.vectorsChangedSince(0, 1))[0]!.vector)).toEqual(
      Array.from(newImage(7, '').vector)
    );
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describeCollectionsContract('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-catalog-'));
  const store = await SqliteCatalogStore.open(join(dir, 'catalog.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  };
});

describeUpgradeFromBeforeCollections('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-catalog-'));
  const file = join(dir, 'catalog.db');
  return {
    async build({ settings, images, vector, paths, removed }) {
      // The schema as the release before collections left it: migration 0000 only.
      const old = await migrationsBefore(SQLITE_MIGRATIONS, join(dir, 'migrations'), 1);
      const client = createClient({ url: `file:${file}` });
      try {
        await migrate(drizzle(client), { migrationsFolder: old });
        await client.batch([
          ...settings.map(([key, value]) => ({
            sql: 'INSERT INTO collection VALUES (?, ?)',
            args: [key, value]
          })),
          ...images.map(({ id, contentHash, format, state, seq }) => ({
            sql: "INSERT INTO images VALUES (?, ?, 10, 20, 30, ?, '00', ?, ?, ?)",
            args: [id, contentHash, format, vector, state, seq]
          })),
          ...paths.map(([path, imageId, mtimeMs]) => ({
            sql: 'INSERT INTO paths VALUES (?, ?, 30, ?)',
            args: [path, imageId, mtimeMs]
          })),
          ...removed.map(([seq, imageId]) => ({
            sql: 'INSERT INTO removed VALUES (?, ?)',
            args: [seq, imageId]
          }))
        ]);
      } finally {
        client.close();
      }
    },
    openStore: () => SqliteCatalogStore.open(file),
    openCatalog: () => SqliteCatalog.open(file),
    cleanup: () => rm(dir, { recursive: true, force: true })
  };
});
