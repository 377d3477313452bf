import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { expect, it } from 'vitest';
import { DEFAULT_COLLECTION } from '../../server/stores/collection-names';
import { SqliteCatalog, SqliteCatalogStore } from '../../server/stores/sqlite/sqlite-catalog';
import { describeCatalogContract, newImage } from './catalog.contract';
import { describeCollectionsContract } from './collections.contract';
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

it('moves a database from before named collections into the default collection', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-catalog-'));
  const file = join(dir, 'catalog.db');
  try {
    // The schema as the release before collections left it: migration 0000 only.
    const old = join(dir, 'migrations');
    await cp(SQLITE_MIGRATIONS, old, { recursive: true });
    const journalFile = join(old, 'meta', '_journal.json');
    const journal = JSON.parse(await readFile(journalFile, 'utf8')) as { entries: unknown[] };
    journal.entries = journal.entries.slice(0, 1);
    await writeFile(journalFile, JSON.stringify(journal));
    const client = createClient({ url: `file:${file}` });
    try {
      await migrate(drizzle(client), { migrationsFolder: old });
      const vector = Buffer.from(new Float32Array([1, 0, 0, 0]).buffer);
      await client.batch([
        "INSERT INTO collection VALUES ('model_id', 'tiny'), ('dimension', '4'), ('seq', '3'), ('revision', '7'), ('revision_epoch', 'e-old')",
        {
          sql: "INSERT INTO images VALUES (5, ?, 10, 20, 30, 'jpeg', '00', ?, 'indexed', 1)",
          args: [newImage(1, '').contentHash, vector]
        },
        {
          sql: "INSERT INTO images VALUES (6, ?, 10, 20, 30, 'png', '00', ?, 'pending', 2)",
          args: [newImage(2, '').contentHash, vector]
        },
        "INSERT INTO paths VALUES ('/p/a.jpg', 5, 30, 1.5), ('/p/A.jpg', 6, 30, 2.5), ('/p/b.jpg', 6, 30, 3)",
        'INSERT INTO removed VALUES (3, 4)'
      ]);
    } finally {
      client.close();
    }

    const store = await SqliteCatalogStore.open(file);
    try {
      expect(await store.listCollections()).toEqual([
        expect.objectContaining({
          id: 1,
          name: DEFAULT_COLLECTION,
          images: 2,
          model: { modelId: 'tiny', dimension: 4 }
        })
      ]);
      const home = await store.catalog(DEFAULT_COLLECTION);
      expect(await home.collectionModel()).toEqual({ modelId: 'tiny', dimension: 4 });
      expect(await home.contentRevision()).toBe('e-old.7');
      expect(await home.latestSeq()).toBe(3);
      expect(await home.removedSince(0)).toEqual([4]);
      expect(await home.getPath('/p/a.jpg')).toEqual({
        path: '/p/a.jpg',
        imageId: 5,
        size: 30,
        mtimeMs: 1.5
      });
      expect((await home.getImages([6])).get(6)).toMatchObject({
        state: 'pending',
        paths: ['/p/A.jpg', '/p/b.jpg']
      });
      expect((await home.pathsUnder('/p')).length).toBe(3);
      // Writes go on from where the old database was, with new ids after the old ones.
      const added = await home.addImages([newImage(3, '/p/c.jpg')]);
      expect(added.ids[0]).toBeGreaterThan(6);
      expect(await home.latestSeq()).toBe(4);
      expect(await home.contentRevision()).toBe('e-old.8');
      // The same picture may now be in another collection too.
      await store.createCollection('other');
      const other = await store.catalog('other');
      const copy = await other.addImages([newImage(1, '/p/a.jpg')]);
      expect(copy.ids[0]).toBeGreaterThan(added.ids[0]!);
      expect((await home.findImageByHash(newImage(1, '').contentHash))!.id).toBe(5);
    } finally {
      await store.close();
    }
    // The default collection's catalog opened the old way sees the same.
    const again = await SqliteCatalog.open(file);
    expect(await again.countImages()).toBe(3);
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
