import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { expect, it } from 'vitest';
import { SqliteCatalog } from '../../server/stores/sqlite/sqlite-catalog';
import { describeCatalogContract, newImage } from './catalog.contract';
import { describeJobStoreContract } from './job-store.contract';

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
