import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrateCollection } from '../../server/services/migrate';
import { MilvusVectorIndex } from '../../server/stores/milvus/milvus-index';
import { MysqlCatalog } from '../../server/stores/mysql/mysql-catalog';
import { SqliteCatalog } from '../../server/stores/sqlite/sqlite-catalog';
import { generateFolder } from '../helpers/folders';
import { testMilvus, uniqueCollectionName } from '../helpers/milvus';
import { dropDatabase, mysqlReachable, mysqlTestUrl } from '../helpers/mysql';
import { testRuntime } from '../helpers/runtime';

const milvus = await testMilvus();
const up = (await mysqlReachable()) && milvus.address !== undefined;
afterAll(() => (milvus.address ? milvus.stop() : undefined));

describe.skipIf(!up)('lookalike migrate: embedded collection → MySQL + Milvus', () => {
  it('moves pictures, every path and vector without re-embedding; a re-run copies nothing twice', async () => {
    const base = await mkdtemp(join(tmpdir(), 'lookalike-migrate-'));
    const url = mysqlTestUrl();
    const env = {
      MYSQL_URL: url,
      MILVUS_ADDRESS: milvus.address!,
      MILVUS_COLLECTION: uniqueCollectionName()
    };
    try {
      const folder = await generateFolder(join(base, 'photos'));
      const dataDir = join(base, 'data');
      const embedded = await testRuntime({ roots: [base], dataDir });
      await embedded.runtime.jobs.waitFor(
        (await embedded.runtime.jobs.start({ path: folder.root })).jobId
      );
      await embedded.cleanup();

      const source = await SqliteCatalog.open(join(dataDir, 'catalog.db'));
      const target = await MysqlCatalog.open(url);
      const index = await MilvusVectorIndex.open({
        address: env.MILVUS_ADDRESS,
        collection: env.MILVUS_COLLECTION,
        dimension: 128
      });
      try {
        const model = { modelId: 'tiny', dimension: 128 };
        const first = await migrateCollection(source, { catalog: target, index }, model);
        expect(first).toEqual({
          images: folder.distinct,
          paths: folder.good.length,
          alreadyThere: 0
        });
        expect(await migrateCollection(source, { catalog: target, index }, model)).toEqual({
          images: 0,
          paths: 0,
          alreadyThere: folder.distinct
        });
        expect(await target.countImages()).toBe(folder.distinct);
        expect(await index.count()).toBe(folder.distinct);
      } finally {
        await index.close();
        await target.close();
        await source.close();
      }

      // The scale-out collection is complete: re-indexing finds every file unchanged (sizes and
      // mtimes came along), and each picture finds itself.
      const scaled = await testRuntime({ roots: [base], dataDir, env });
      try {
        const job = await scaled.runtime.jobs.waitFor(
          (await scaled.runtime.jobs.start({ path: folder.root })).jobId
        );
        expect(job.unchanged).toBe(folder.good.length);
        expect(job.indexed).toBe(0);
        const [hit] = await scaled.runtime.collection.search(
          await scaled.runtime.embedder.embedOne(join(folder.root, 'img2.png')),
          1
        );
        expect(hit!.path).toBe(join(folder.root, 'img2.png'));
        expect(hit!.score).toBeGreaterThan(0.9999);
      } finally {
        await scaled.cleanup();
      }
    } finally {
      await dropDatabase(url);
      await rm(base, { recursive: true, force: true });
    }
  });
});
