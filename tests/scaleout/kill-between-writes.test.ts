import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MilvusVectorIndex } from '../../server/stores/milvus/milvus-index';
import { scene } from '../helpers/images';
import { testMilvus, uniqueCollectionName } from '../helpers/milvus';
import { TEST_MODEL_CACHE } from '../helpers/models';
import { dropDatabase, mysqlReachable, mysqlTestUrl } from '../helpers/mysql';
import { testRuntime } from '../helpers/runtime';

const PICTURES = 12;
const milvus = await testMilvus();
const up = (await mysqlReachable()) && milvus.address !== undefined;
afterAll(() => (milvus.address ? milvus.stop() : undefined));
let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'lookalike-kill-'));
  await mkdir(join(base, 'photos'));
  for (let i = 0; i < PICTURES; i++) {
    await writeFile(join(base, 'photos', `p${i}.jpg`), await scene(200, 150, i + 1));
  }
});
afterAll(() => rm(base, { recursive: true, force: true }));

/** Runs the index child until the failpoint kills it; returns how it ended. */
async function crashAt(failpoint: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/fixtures/index-child.ts'], {
    env: {
      ...process.env,
      ...env,
      LOOKALIKE_MODEL: 'tiny',
      LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE,
      LOOKALIKE_IMAGE_ROOTS: base,
      LOOKALIKE_TEST_FOLDER: join(base, 'photos'),
      LOOKALIKE_BATCH_SIZE: '4',
      LOOKALIKE_FAILPOINT: failpoint,
      LOG_LEVEL: 'silent'
    },
    stdio: 'ignore'
  });
  return new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal))
  );
}

describe.skipIf(!up)(
  'a crash between the catalog write and the vector write (MySQL + Milvus)',
  () => {
    it('is repaired at the next start: pending rows reach Milvus, orphan vectors leave it', async () => {
      const url = mysqlTestUrl();
      const env = {
        LOOKALIKE_DATA_DIR: join(base, 'data'),
        MYSQL_URL: url,
        MILVUS_ADDRESS: milvus.address!,
        MILVUS_COLLECTION: uniqueCollectionName()
      };
      try {
        // 1. Killed right after the first batch's catalog commit: rows without vectors.
        expect(await crashAt('after-catalog-write', env)).toBe('SIGKILL');
        let opened = await testRuntime({ roots: [base], dataDir: env.LOOKALIKE_DATA_DIR, env });
        try {
          const { collection } = opened.runtime;
          // Opening ran the repair already; a second audit finds nothing left to do.
          expect(await collection.count()).toBe(4);
          expect(await collection.indexedCount()).toBe(4);
          const again = await collection.audit();
          expect(again).toEqual({ pending: 0, missingVectors: 0, orphanVectors: 0, checked: true });
          const job = await opened.runtime.jobs.waitFor(
            (await opened.runtime.jobs.start({ path: join(base, 'photos') })).jobId
          );
          expect(job.indexed).toBe(PICTURES - 4);
          expect(await collection.indexedCount()).toBe(PICTURES);
        } finally {
          await opened.cleanup();
        }

        // 2. Killed between removing rows and removing their vectors: vectors without rows.
        await unlink(join(base, 'photos', 'p0.jpg'));
        await unlink(join(base, 'photos', 'p1.jpg'));
        expect(await crashAt('after-catalog-remove', env)).toBe('SIGKILL');
        opened = await testRuntime({ roots: [base], dataDir: env.LOOKALIKE_DATA_DIR, env });
        try {
          const { collection } = opened.runtime;
          expect(await collection.count()).toBe(PICTURES - 2);
          expect(await collection.indexedCount()).toBe(PICTURES - 2);
          // 3. Vectors Milvus lost (removed behind Lookalike's back) are re-sent from the catalog.
          const lost = (await collection.imagesAfter(0, 3)).map((image) => image.id);
          const behindItsBack = await MilvusVectorIndex.open({
            address: env.MILVUS_ADDRESS,
            collection: env.MILVUS_COLLECTION,
            dimension: 128
          });
          await behindItsBack.remove(lost).finally(() => behindItsBack.close());
          expect(await collection.indexedCount()).toBe(PICTURES - 5);
          expect(await collection.audit()).toEqual({
            pending: 0,
            missingVectors: 3,
            orphanVectors: 0,
            checked: true
          });
          expect(await collection.indexedCount()).toBe(PICTURES - 2);
        } finally {
          await opened.cleanup();
        }
      } finally {
        await dropDatabase(url);
      }
    });
  }
);
