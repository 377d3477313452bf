import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scene } from '../helpers/images';
import {
  dropCollection,
  milvusAnswers,
  uniqueCollectionName,
  withMilvusClient
} from '../helpers/milvus';
import { dropDatabase, mysqlReachable, mysqlTestUrl } from '../helpers/mysql';
import {
  errorOf,
  imageForm,
  jsonRequest,
  startTestServer,
  writeScenes,
  type TestServer
} from './helpers';

/**
 * `table_name` / `Table` as the original (milvus-io/bootcamp, image/reverse_image_search/server)
 * used them: each names a Milvus collection + MySQL table, created by the first load or upload
 * into it; `/img/count` of a missing one answers null, `/img/drop` of a missing one "Milvus
 * doesn't have a collection named …", and a drop removes that table only. Here each is a
 * Lookalike collection: on the embedded stores, and on MariaDB + the real Milvus server (one
 * Milvus collection per table) when LOOKALIKE_TEST_MYSQL_URL and LOOKALIKE_TEST_MILVUS_ADDRESS
 * are set.
 */

const MYSQL = process.env.LOOKALIKE_TEST_MYSQL_URL;
const MILVUS = process.env.LOOKALIKE_TEST_MILVUS_ADDRESS;
const sharedSkip = !MYSQL
  ? 'LOOKALIKE_TEST_MYSQL_URL is not set'
  : !MILVUS
    ? 'LOOKALIKE_TEST_MILVUS_ADDRESS is not set'
    : !(await mysqlReachable())
      ? 'no MySQL/MariaDB answers'
      : !(await milvusAnswers(MILVUS))
        ? `no Milvus answers at ${MILVUS}`
        : undefined;
if (sharedSkip) console.warn(`Bootcamp tables on MariaDB + Milvus SKIPPED: ${sharedSkip}`);

interface Stores {
  name: string;
  skip?: string;
  /** Settings for the server, and what to remove afterwards. */
  open(): { env: Record<string, string>; cleanup(): Promise<void> };
}

const STORES: Stores[] = [
  { name: 'embedded stores', open: () => ({ env: {}, cleanup: async () => undefined }) },
  {
    name: 'MariaDB + Milvus',
    skip: sharedSkip,
    open() {
      const url = mysqlTestUrl();
      const collection = uniqueCollectionName('lk_bc');
      const prefix = `${collection}_t_`;
      return {
        env: {
          MYSQL_URL: url,
          MILVUS_ADDRESS: MILVUS!,
          MILVUS_COLLECTION: collection,
          LOOKALIKE_MILVUS_PREFIX: prefix
        },
        async cleanup() {
          await dropDatabase(url).catch(() => undefined);
          await dropCollection(MILVUS!, collection).catch(() => undefined);
          await withMilvusClient(MILVUS!, async (client) => {
            const { data } = await client.listCollections();
            for (const { name } of data)
              if (name.startsWith(prefix)) await client.dropCollection({ collection_name: name });
          }).catch(() => undefined);
        }
      };
    }
  }
];

describe.each(STORES)('$name', (store) => {
  if (store.skip) {
    it.skip(`needs ${store.skip}`, () => undefined);
    return;
  }

  let s: TestServer;
  /** The folder as the original's test passed it: relative to the working directory. */
  let folder: string;
  let testJpg: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const stores = store.open();
    cleanup = stores.cleanup;
    s = await startTestServer(stores.env);
    const absolute = join(s.imagesRoot, 'example_img');
    await writeScenes(absolute, 19, { firstSeed: 1 });
    await writeFile(join(absolute, 'test.jpg'), await scene(96, 72, 100));
    folder = `./${relative(process.cwd(), absolute)}`;
    testJpg = `${folder}/test.jpg`;
  }, 120_000);

  afterAll(async () => {
    await s?.close();
    await cleanup?.();
  });

  type Pair = [string, number];
  const post = (path: string, init: RequestInit = {}) =>
    s.app.request(path, { method: 'POST', ...init });
  const json = async (res: Response | Promise<Response>) => (await res).json() as Promise<unknown>;

  describe("the original's test sequence (test_main.py), with table_name", () => {
    const T = 'table_name=alpha';

    it('test_drop: the table does not exist yet', async () => {
      const res = await post(`/img/drop?${T}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toBe("Milvus doesn't have a collection named alpha");
    });

    it('test_load_img: creates the table', async () => {
      const res = await post('/img/load', jsonRequest({ File: folder, Table: 'alpha' }));
      expect(res.status).toBe(200);
      expect(await res.json()).toBe('Successfully loaded data!');
      expect((await s.runtime.collections.get('alpha'))?.model.manifest.id).toBe(
        s.runtime.model.manifest.id
      );
    });

    it('test_progress', async () => {
      const res = await s.app.request('/progress');
      expect(res.status).toBe(200);
      expect(await res.json()).toBe('current: 20, total: 20');
    });

    it('test_count: that table only', async () => {
      expect(await json(post(`/img/count?${T}`))).toBe(20);
      expect(await json(post('/img/count'))).toBe(0);
    });

    it('test_get_img', async () => {
      const res = await s.app.request(`/data?image_path=${encodeURIComponent(testJpg)}`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(await readFile(testJpg))).toBe(true);
    });

    it('test_upload_img', async () => {
      const res = await post(`/img/upload?${T}`, {
        body: imageForm(await readFile(testJpg), {}, 'test.jpg')
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatch(/^Successfully loaded data: \d+$/);
      // The same picture as the folder's test.jpg, in alpha; the default collection is untouched.
      expect(await json(post(`/img/count?${T}`))).toBe(20);
      expect(await json(post('/img/count'))).toBe(0);
    });

    it('test_search', async () => {
      const res = await post(`/img/search?${T}`, {
        body: imageForm(await readFile(testJpg), {}, 'test.jpg')
      });
      expect(res.status).toBe(200);
      const pairs = (await res.json()) as Pair[];
      expect(pairs).toHaveLength(10);
      expect(pairs[0]![1]).toBeLessThan(1e-3);
      // The default collection is empty: nothing to find there.
      const other = await post('/img/search', { body: imageForm(await readFile(testJpg)) });
      expect(await other.json()).toEqual([]);
    });

    it('test_drop (test_docker_compose): removes the table', async () => {
      expect(await json(post(`/img/drop?${T}`))).toBe('ok');
      expect(await json(post(`/img/count?${T}`))).toBeNull();
      expect(await json(post(`/img/drop?${T}`))).toBe(
        "Milvus doesn't have a collection named alpha"
      );
    });
  });

  describe('tables are separate collections', () => {
    it('/img/drop?table_name=alpha drops alpha only', async () => {
      for (const table of ['alpha', 'beta'])
        expect((await post('/img/load', jsonRequest({ File: folder, Table: table }))).status).toBe(
          200
        );
      expect((await post('/img/load', jsonRequest({ File: folder }))).status).toBe(200);

      expect(await json(post('/img/drop?table_name=alpha'))).toBe('ok');
      expect(await json(post('/img/count?table_name=alpha'))).toBeNull();
      expect(await json(post('/img/count?table_name=beta'))).toBe(20);
      expect(await json(post('/img/count'))).toBe(20);
      expect(await s.runtime.collections.get('alpha')).toBeUndefined();
    });

    it('searching a missing table is an error naming it', async () => {
      const res = await post('/img/search?table_name=nothing_here', {
        body: imageForm(await readFile(testJpg))
      });
      expect(res.status).toBe(404);
      const { error } = await errorOf(res);
      expect(error.code).toBe('collection_not_found');
      expect(error.message).toContain('nothing_here');
      // Asking did not create it.
      expect(await json(post('/img/count?table_name=nothing_here'))).toBeNull();
    });

    it('a load of a missing folder creates no table', async () => {
      const res = await post('/img/load', jsonRequest({ File: `${folder}/nope`, Table: 'delta' }));
      expect(res.status).toBe(404);
      expect(await json(post('/img/count?table_name=delta'))).toBeNull();
    });

    it('an upload into a new table creates it', async () => {
      const res = await post('/img/upload?table_name=gamma', {
        body: imageForm(await scene(80, 60, 777))
      });
      expect(res.status).toBe(200);
      expect(await json(post('/img/count?table_name=gamma'))).toBe(1);
    });

    it('serves /data for a path any table holds, or only the one named', async () => {
      const path = encodeURIComponent(testJpg);
      expect((await s.app.request(`/data?image_path=${path}&table_name=beta`)).status).toBe(200);
      expect((await s.app.request(`/data?image_path=${path}&table_name=gamma`)).status).toBe(404);
      await post('/img/drop');
      expect(await json(post('/img/count'))).toBe(0);
      // Only beta holds it now.
      expect((await s.app.request(`/data?image_path=${path}`)).status).toBe(200);
    });

    it('refuses table names that cannot be collection names', async () => {
      for (const name of ['../etc', 'a b', '-x', 'x'.repeat(65)]) {
        const res = await post(`/img/count?table_name=${encodeURIComponent(name)}`);
        expect(res.status, name).toBe(400);
        expect((await errorOf(res)).error.code).toBe('invalid_request');
      }
      const load = await post('/img/load', jsonRequest({ File: folder, Table: 'no/slash' }));
      expect(load.status).toBe(400);
    });
  });
});
