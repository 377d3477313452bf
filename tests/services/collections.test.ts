import { existsSync } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usearchPath, type Runtime } from '../../server/runtime';
import type { OpenCollection } from '../../server/services/collections';
import { milvusCollectionName } from '../../server/stores/milvus/milvus-index';
import { writeScenes } from '../http/helpers';
import {
  dropCollection,
  testMilvus,
  uniqueCollectionName,
  withMilvusClient
} from '../helpers/milvus';
import { dropDatabase, mysqlReachable, mysqlTestUrl } from '../helpers/mysql';
import { testRuntime } from '../helpers/runtime';

/** Indexes `folder` into `open` and waits for the job. */
async function indexInto(open: OpenCollection, folder: string) {
  const job = await open.jobs.start({ path: folder });
  return open.jobs.waitFor(job.jobId);
}

async function topPath(open: OpenCollection, file: string): Promise<string | undefined> {
  const [hit] = await open.collection.search(await open.embedder.embedOne(file), 1);
  return hit?.path;
}

describe('milvusCollectionName', () => {
  it('maps names one-to-one onto Milvus-legal names', () => {
    const names = ['default', 'a', 'a_b', 'a-b', 'a_2db', 'a_5fb', 'a__', 'a--', '_', '-x', '9'];
    const mapped = names.map((n) => milvusCollectionName('lookalike_', n));
    expect(new Set(mapped).size).toBe(names.length);
    for (const m of mapped) expect(m).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
    expect(milvusCollectionName('lookalike_', 'wall-papers_2')).toBe('lookalike_wall_2dpapers_5f2');
  });
});

describe('Collections on the embedded stores', () => {
  let base: string;
  let root: string;
  let dataDir: string;
  let runtime: Runtime;
  let close: () => Promise<void>;
  let red: string[];
  let blue: string[];

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'lookalike-collections-svc-')));
    root = join(base, 'images');
    dataDir = join(base, 'data');
    red = await writeScenes(join(root, 'red'), 3, { firstSeed: 70 });
    blue = await writeScenes(join(root, 'blue'), 3, { firstSeed: 90 });
    ({ runtime, cleanup: close } = await testRuntime({ dataDir, roots: [root] }));
  });
  afterAll(async () => {
    await close?.();
    await rm(base, { recursive: true, force: true });
  });

  it('keeps the default collection as runtime.collection', async () => {
    const main = await runtime.collections.get('default');
    expect(main!.collection).toBe(runtime.collection);
    expect(main!.jobs).toBe(runtime.jobs);
    expect(runtime.collections.defaultCollection).toBe(main);
    expect(await runtime.collections.get('missing')).toBeUndefined();
  });

  it('gives each collection its own index file and model; models are shared', async () => {
    const big = await runtime.collections.getOrCreate('big', { model: 'synthetic-resnet50' });
    const small = await runtime.collections.getOrCreate('small');
    expect(big.model.manifest.id).toBe('synthetic-resnet50');
    expect(small.model.manifest.id).toBe('tiny');
    // One model, one inference worker, however many collections use it.
    expect(small.embedder).toBe(runtime.embedder);
    expect(await runtime.collections.getOrCreate('big')).toBe(big);

    expect(await indexInto(big, join(root, 'red'))).toMatchObject({ state: 'done', indexed: 3 });
    expect(await indexInto(small, join(root, 'blue'))).toMatchObject({ state: 'done', indexed: 3 });
    expect(await topPath(big, red[1]!)).toBe(red[1]);
    expect(await topPath(small, blue[2]!)).toBe(blue[2]);
    expect(await runtime.collection.count()).toBe(0);

    const summaries = new Map((await runtime.collections.list()).map((s) => [s.name, s]));
    const bigFile = usearchPath(runtime.config, summaries.get('big')!);
    expect(bigFile).toMatch(/vectors-c\d+\.usearch$/);
    await big.collection.flush();
    expect(existsSync(bigFile)).toBe(true);
    expect(existsSync(join(dataDir, 'vectors.usearch'))).toBe(true);
  });

  it('deletes a collection: its jobs, vectors and rows; a new one of the name starts afresh', async () => {
    const before = (await runtime.collections.list()).find((s) => s.name === 'big')!;
    const file = usearchPath(runtime.config, before);
    expect(await runtime.collections.delete('big')).toBe(true);
    expect(await runtime.collections.delete('big')).toBe(false);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.json`)).toBe(false);
    expect(await runtime.collections.get('big')).toBeUndefined();
    const small = await runtime.collections.get('small');
    expect(await small!.collection.count()).toBe(3);

    const again = await runtime.collections.getOrCreate('big');
    const after = (await runtime.collections.list()).find((s) => s.name === 'big')!;
    expect(after.id).not.toBe(before.id);
    expect(again.model.manifest.id).toBe('tiny');
    expect(await again.collection.count()).toBe(0);
  });

  it('cancels a running job of a collection it deletes', async () => {
    const many = await writeScenes(join(root, 'many'), 24, { firstSeed: 200 });
    const busy = await runtime.collections.getOrCreate('busy');
    const job = await busy.jobs.start({ path: join(root, 'many') });
    expect(await runtime.collections.delete('busy')).toBe(true);
    const record = await runtime.jobStore.get(job.jobId);
    // Deleted right after the start: the job stops after at most one batch.
    expect(record?.state).toBe('cancelled');
    expect(record!.seen).toBeLessThan(many.length);
  });

  it('keeps an empty collection and its model across a restart', async () => {
    await runtime.collections.getOrCreate('empty-big', { model: 'synthetic-resnet50' });
    await close();
    ({ runtime, cleanup: close } = await testRuntime({ dataDir, roots: [root] }));
    const open = await runtime.collections.get('empty-big');
    expect(open!.model.manifest.id).toBe('synthetic-resnet50');
    const small = await runtime.collections.get('small');
    expect(await topPath(small!, blue[0]!)).toBe(blue[0]);
    expect((await runtime.collections.list()).map((s) => s.name)).toEqual([
      'big',
      'default',
      'empty-big',
      'small'
    ]);
  });
});

// The fast tier runs no store servers (testMilvus would start Milvus Lite): only the full run.
const storeTier = process.env.LOOKALIKE_TEST_TIER !== 'fast';
const mysqlUp = storeTier && (await mysqlReachable());
const milvus = storeTier
  ? await testMilvus()
  : { address: undefined, reason: 'fast tier: no store servers' };
afterAll(() => (milvus.address ? milvus.stop() : undefined));

describe.skipIf(!mysqlUp || !milvus.address)('Collections on MySQL + Milvus', () => {
  const prefix = `${uniqueCollectionName('lk_coll')}_`;
  const defaultName = uniqueCollectionName('lk_coll_default');
  const url = mysqlTestUrl();
  let base: string;
  let root: string;
  let pictures: string[];
  let runtime: Runtime;
  let close: () => Promise<void>;
  const address = milvus.address!;
  const env = {
    MYSQL_URL: url,
    MILVUS_ADDRESS: address,
    MILVUS_COLLECTION: defaultName,
    LOOKALIKE_MILVUS_PREFIX: prefix
  };
  const has = (name: string) =>
    withMilvusClient(
      address,
      async (client) => (await client.hasCollection({ collection_name: name })).value
    );

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'lookalike-collections-milvus-')));
    root = join(base, 'images');
    pictures = await writeScenes(join(root, 'pics'), 4, { firstSeed: 300 });
    ({ runtime, cleanup: close } = await testRuntime({ roots: [root], env }));
  });
  afterAll(async () => {
    await close?.();
    await dropCollection(address, defaultName).catch(() => undefined);
    await dropCollection(address, milvusCollectionName(prefix, 'wall-papers_2')).catch(
      () => undefined
    );
    await dropDatabase(url).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  });

  it('indexes into a Milvus collection of its own, searches it, and drops it on delete', async () => {
    const open = await runtime.collections.getOrCreate('wall-papers_2', {
      model: 'synthetic-resnet50'
    });
    const milvusName = milvusCollectionName(prefix, 'wall-papers_2');
    expect(await has(milvusName)).toBe(true);
    expect(await indexInto(open, join(root, 'pics'))).toMatchObject({ state: 'done', indexed: 4 });
    expect(await open.collection.indexedCount()).toBe(4);
    expect(await topPath(open, pictures[3]!)).toBe(pictures[3]);
    // The default collection is another Milvus collection, untouched.
    expect(await runtime.collection.indexedCount()).toBe(0);
    expect(await has(defaultName)).toBe(true);

    // Survives a restart (catalog in MySQL, vectors in Milvus).
    await close();
    ({ runtime, cleanup: close } = await testRuntime({ roots: [root], env }));
    const reopened = await runtime.collections.get('wall-papers_2');
    expect(reopened!.model.manifest.id).toBe('synthetic-resnet50');
    expect(await topPath(reopened!, pictures[0]!)).toBe(pictures[0]);

    expect(await runtime.collections.delete('wall-papers_2')).toBe(true);
    expect(await has(milvusName)).toBe(false);
    expect(await runtime.collections.get('wall-papers_2')).toBeUndefined();
    expect(await has(defaultName)).toBe(true);
  });

  it('notices on another server that a collection was deleted or created again', async () => {
    const other = await testRuntime({ roots: [root], env });
    try {
      const here = await runtime.collections.getOrCreate('shared');
      expect(await indexInto(here, join(root, 'pics'))).toMatchObject({ state: 'done' });
      const there = await other.runtime.collections.get('shared');
      expect(await topPath(there!, pictures[1]!)).toBe(pictures[1]);

      expect(await runtime.collections.delete('shared')).toBe(true);
      // An open collection is trusted for up to 2 s before the catalog is asked again.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect(await other.runtime.collections.get('shared')).toBeUndefined();

      await runtime.collections.getOrCreate('shared', { model: 'synthetic-resnet50' });
      const again = await other.runtime.collections.get('shared');
      expect(again!.model.manifest.id).toBe('synthetic-resnet50');
      expect(await again!.collection.count()).toBe(0);
    } finally {
      await other.cleanup();
      await dropCollection(address, milvusCollectionName(prefix, 'shared')).catch(() => undefined);
    }
  });
});
