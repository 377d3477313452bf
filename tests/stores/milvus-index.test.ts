import { createServer, type Server, type Socket } from 'node:net';
import { ConsistencyLevelEnum, DataType } from '@zilliz/milvus2-sdk-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../server/errors';
import {
  MilvusVectorIndex,
  READ_YOUR_WRITES_MS,
  searchConsistency,
  type MilvusIndexType
} from '../../server/stores/milvus/milvus-index';
import {
  TEST_MILVUS_ADDRESS,
  dropCollection,
  freePort,
  milvusLitePython,
  PrivateMilvusLite,
  testMilvus,
  uniqueCollectionName,
  withMilvusClient
} from '../helpers/milvus';
import {
  describeVectorIndexContract,
  entriesOf,
  exactTopK,
  seededRandom,
  unitVectors
} from './vector-index.contract';

/*
 * Against a real Milvus: the one at LOOKALIKE_TEST_MILVUS_ADDRESS (default 127.0.0.1:19530), or
 * Milvus Lite started there by tests/infra/milvus/start.sh when nothing answers. Without either
 * the suites are skipped, with the reason in their names (CI counts a skipped test as a failure).
 */
const milvus = await testMilvus();
const lite = await milvusLitePython();
const address = milvus.address ?? TEST_MILVUS_ADDRESS;
const noMilvus = milvus.address === undefined ? milvus.reason : undefined;
const noLite = 'reason' in lite ? lite.reason : undefined;
if (noMilvus) console.warn(`Milvus store tests SKIPPED: ${noMilvus}`);
if (noLite) console.warn(`Milvus restart tests SKIPPED: ${noLite}`);
const skipped = (reason: string | undefined) => (reason ? ` — SKIPPED: ${reason}` : '');

/** Opens an index on a fresh collection of its own, dropped afterwards. */
function freshIndexes() {
  const opened: { index: MilvusVectorIndex; address: string }[] = [];
  afterEach(async () => {
    for (const { index, address: at } of opened.splice(0)) {
      await index.close();
      await dropCollection(at, index.collection).catch(() => undefined);
    }
  });
  return async (
    options: {
      dimension?: number;
      collection?: string;
      indexType?: MilvusIndexType;
      at?: string;
      connectTimeoutMs?: number;
    } = {}
  ) => {
    const at = options.at ?? address;
    const index = await MilvusVectorIndex.open({
      address: at,
      collection: options.collection ?? uniqueCollectionName(),
      dimension: options.dimension ?? 16,
      ...(options.indexType ? { indexType: options.indexType } : {}),
      ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {})
    });
    opened.push({ index, address: at });
    return index;
  };
}

describe.skipIf(noMilvus !== undefined)(
  `MilvusVectorIndex at ${address}${skipped(noMilvus)}`,
  () => {
    describeVectorIndexContract('milvus', async (dimension) => {
      const collection = uniqueCollectionName();
      const index = await MilvusVectorIndex.open({ address, collection, dimension });
      return {
        index,
        cleanup: async () => {
          await index.close();
          await dropCollection(address, collection);
        }
      };
    });

    describe('collections', () => {
      const open = freshIndexes();
      const D = 16;

      it('creates an INT64 id + FLOAT_VECTOR collection, indexed (HNSW, COSINE) and loaded', async () => {
        const index = await open({ dimension: D });
        expect(index.kind).toBe('milvus');
        expect(index.indexType).toBe('HNSW');
        await withMilvusClient(address, async (client) => {
          const target = { collection_name: index.collection };
          const { schema } = await client.describeCollection(target);
          const fields = Object.fromEntries(schema.fields.map((f) => [f.name, f]));
          expect(fields.id).toMatchObject({
            data_type: 'Int64',
            is_primary_key: true,
            autoID: false
          });
          expect(fields.vector).toMatchObject({ data_type: 'FloatVector' });
          expect(Number(fields.vector!.dim)).toBe(D);
          const { index_descriptions } = await client.describeIndex({
            ...target,
            field_name: 'vector'
          });
          const params = Object.fromEntries(
            index_descriptions[0]!.params.map((p) => [p.key, p.value])
          );
          expect(params).toMatchObject({ index_type: 'HNSW', metric_type: 'COSINE' });
          expect((await client.getLoadState(target)).state).toBe('LoadStateLoaded');
        });
      });

      it("sees its own writes at once, and another process's within the Bounded staleness", async () => {
        const collection = uniqueCollectionName();
        const writer = await open({ collection, dimension: D });
        const reader = await open({ collection, dimension: D });
        const entries = entriesOf(unitVectors(20, D, 33));
        await writer.upsert(entries);
        // No flush: the writer's next search is Strong, so it finds every vector it just wrote.
        for (const { id, vector } of entries)
          expect((await writer.search(vector, 1))[0]?.id).toBe(id);
        // The reader never wrote: it searches Bounded, and the writes reach it within the bound.
        const started = Date.now();
        let seen = 0;
        while (Date.now() - started < READ_YOUR_WRITES_MS) {
          seen = 0;
          for (const { id, vector } of entries)
            if ((await reader.search(vector, 1))[0]?.id === id) seen += 1;
          if (seen === entries.length) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(seen).toBe(entries.length);
      });

      it('reopening an existing collection keeps its vectors and its index type', async () => {
        const collection = uniqueCollectionName();
        const entries = entriesOf(unitVectors(50, D, 21));
        const first = await open({ collection, dimension: D });
        await first.upsert(entries);
        await first.flush();
        await first.close();

        const again = await open({ collection, dimension: D, indexType: 'FLAT' });
        expect(again.indexType).toBe('HNSW'); // an existing collection keeps its index
        expect(await again.count()).toBe(50);
        for (const { id, vector } of entries.slice(0, 10)) {
          expect((await again.search(vector, 1))[0]).toEqual({ id, score: expect.closeTo(1, 4) });
        }
      });

      it('refuses a collection of another dimension, naming both', async () => {
        const collection = uniqueCollectionName();
        const first = await open({ collection, dimension: D });
        await first.upsert(entriesOf(unitVectors(3, D, 22)));
        await expect(open({ collection, dimension: 2048 })).rejects.toThrow(
          new RegExp(`"${collection}".*dimension ${D}.*needs dimension 2048`)
        );
        // The collection is untouched.
        expect(await first.count()).toBe(3);
      });

      it('refuses a collection it did not make (e.g. the bootcamp schema)', async () => {
        const collection = uniqueCollectionName();
        await withMilvusClient(address, async (client) => {
          await client.createCollection({
            collection_name: collection,
            fields: [
              { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: true },
              { name: 'embedding', data_type: DataType.FloatVector, dim: D }
            ]
          });
        });
        try {
          await expect(open({ collection, dimension: D })).rejects.toThrow(
            /was not made by Lookalike.*embedding: FloatVector/
          );
        } finally {
          await dropCollection(address, collection);
        }
      });

      it('rejects an invalid collection name before connecting', async () => {
        await expect(open({ collection: 'no spaces; please' })).rejects.toThrow(/collection name/);
      });

      it('listIds pages through every id in ascending order', async () => {
        const index = await open({ dimension: D });
        const rand = seededRandom(23);
        const ids = [...new Set(Array.from({ length: 300 }, () => 1 + Math.floor(rand() * 1e6)))];
        const vectors = unitVectors(ids.length, D, 24);
        // Random order, several batches, some rewritten and some removed: the storage order is not
        // the id order.
        await index.upsert(ids.map((id, i) => ({ id, vector: vectors[i]! })));
        await index.upsert(ids.slice(0, 40).map((id, i) => ({ id, vector: vectors[i + 1]! })));
        const removed = new Set(ids.slice(50, 70));
        await index.remove([...removed]);
        const expected = ids.filter((id) => !removed.has(id)).sort((a, b) => a - b);

        const paged: number[] = [];
        for (let after = -1; ;) {
          const page = await index.listIds(after, 37);
          expect(page.length).toBeLessThanOrEqual(37);
          if (page.length === 0) break;
          paged.push(...page);
          after = page[page.length - 1]!;
        }
        expect(paged).toEqual(expected);
        expect(await index.listIds(expected[9]!, 5)).toEqual(expected.slice(10, 15));
        expect(await index.listIds(expected.at(-1)!, 10)).toEqual([]);
        expect(await index.listIds(-1, 0)).toEqual([]);
      });

      it('writes and removes more than one request’s worth of vectors', async () => {
        const index = await open({ dimension: D });
        const entries = entriesOf(unitVectors(1300, D, 25));
        await index.upsert(entries); // 500 per request
        expect(await index.count()).toBe(1300);
        await index.remove(entries.slice(0, 1150).map((e) => e.id)); // 1000 per request
        expect(await index.count()).toBe(150);
        const [best] = await index.search(entries[1200]!.vector, 1);
        expect(best?.id).toBe(entries[1200]!.id);
        expect(await index.listIds(-1, 1000)).toEqual(entries.slice(1150).map((e) => e.id));
      });

      it.each(['IVF_FLAT', 'IVF_SQ8', 'FLAT'] as const)(
        'searches with a %s index',
        async (type) => {
          const index = await open({ dimension: D, indexType: type });
          expect(index.indexType).toBe(type);
          const entries = entriesOf(unitVectors(200, D, 26));
          await index.upsert(entries);
          await index.flush();
          for (const { id, vector } of entries.slice(0, 20)) {
            const [best] = await index.search(vector, 1);
            expect(best?.id).toBe(id);
            // IVF_SQ8 stores 8-bit codes: scores are close, not exact.
            expect(best?.score).toBeCloseTo(1, type === 'IVF_SQ8' ? 1 : 4);
          }
          if (type === 'FLAT') {
            const [query] = unitVectors(1, D, 27);
            const found = await index.search(query!, 10);
            expect(found.map((m) => m.id)).toEqual(exactTopK(entries, query!, 10));
          }
        }
      );

      it('loads the collection again when it was released behind its back', async () => {
        const index = await open({ dimension: D });
        const entries = entriesOf(unitVectors(30, D, 28));
        await index.upsert(entries);
        const target = { collection_name: index.collection };
        await withMilvusClient(address, async (client) => {
          await client.releaseCollection(target);
          expect((await client.getLoadState(target)).state).toBe('LoadStateNotLoad');
        });
        const [best] = await index.search(entries[5]!.vector, 1);
        expect(best?.id).toBe(entries[5]!.id);
        await withMilvusClient(address, async (client) => {
          expect((await client.getLoadState(target)).state).toBe('LoadStateLoaded');
          await client.releaseCollection(target);
        });
        expect(await index.count()).toBe(30);
        expect(await index.listIds(-1, 100)).toEqual(entries.map((e) => e.id));
      });

      it('ping answers true while connected, false once closed', async () => {
        const index = await open({ dimension: D });
        expect(await index.ping()).toBe(true);
        await index.close();
        expect(await index.ping()).toBe(false);
        await expect(index.count()).rejects.toThrow(/closed/);
      });
    });
  }
);

describe.skipIf(noLite !== undefined)(
  `MilvusVectorIndex across a Milvus restart${skipped(noLite)}`,
  () => {
    const D = 16;
    let server: PrivateMilvusLite;
    beforeAll(async () => {
      server = await PrivateMilvusLite.start((lite as { python: string }).python);
    });
    afterAll(async () => {
      await server?.dispose();
    });
    const open = freshIndexes();

    const loadState = (collection: string) =>
      withMilvusClient(server.address, async (client) =>
        String((await client.getLoadState({ collection_name: collection })).state)
      );

    it.each(['SIGTERM', 'SIGKILL'] as const)(
      'searches again after Milvus restarts (%s) without anyone loading the collection',
      async (signal) => {
        const index = await open({ at: server.address, dimension: D, connectTimeoutMs: 3000 });
        const entries = entriesOf(unitVectors(100, D, 31));
        await index.upsert(entries);
        await index.flush();
        expect((await index.search(entries[7]!.vector, 1))[0]?.id).toBe(entries[7]!.id);

        await server.stop(signal);
        // While it is down: a clear error, quickly.
        const started = Date.now();
        const down = index.search(entries[7]!.vector, 1);
        await expect(down).rejects.toThrow(`Milvus at ${server.address} is unreachable`);
        // The app's own error: 503 store_unavailable over HTTP, one line in the CLI.
        await expect(down).rejects.toBeInstanceOf(StoreUnavailableError);
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(await index.ping()).toBe(false);

        await server.start();
        // The bootcamp's failure: a restarted Milvus has the collection released, so searching
        // fails until something loads it (here: the adapter, on the failed search).
        expect(await loadState(index.collection)).toBe('LoadStateNotLoad');
        for (const { id, vector } of entries.slice(0, 10)) {
          expect((await index.search(vector, 1))[0]).toEqual({ id, score: expect.closeTo(1, 4) });
        }
        expect(await loadState(index.collection)).toBe('LoadStateLoaded');
        expect(await index.count()).toBe(100);
        expect(await index.ping()).toBe(true);
      }
    );

    it('count and writes recover too after a restart', async () => {
      const index = await open({ at: server.address, dimension: D, connectTimeoutMs: 3000 });
      const entries = entriesOf(unitVectors(40, D, 32));
      await index.upsert(entries.slice(0, 20));
      await index.flush();
      await server.stop('SIGTERM');
      await server.start();
      expect(await index.count()).toBe(20);
      await server.stop('SIGTERM');
      await server.start();
      await index.upsert(entries.slice(20));
      expect(await index.count()).toBe(40);
    });
  }
);

describe('searchConsistency', () => {
  it('is Strong while this process wrote recently, Bounded otherwise', () => {
    const now = 1_000_000;
    expect(searchConsistency(undefined, now)).toBe(ConsistencyLevelEnum.Bounded);
    expect(searchConsistency(now, now)).toBe(ConsistencyLevelEnum.Strong);
    expect(searchConsistency(now - READ_YOUR_WRITES_MS + 1, now)).toBe(ConsistencyLevelEnum.Strong);
    expect(searchConsistency(now - READ_YOUR_WRITES_MS, now)).toBe(ConsistencyLevelEnum.Bounded);
  });
});

describe('MilvusVectorIndex when Milvus is unreachable', () => {
  let silent: Server | undefined;
  const sockets = new Set<Socket>();
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => (silent ? silent.close(resolve) : resolve(undefined)));
  });

  it('fails fast with a clear message when nothing listens', async () => {
    const at = `127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const opening = MilvusVectorIndex.open({ address: at, collection: 'lookalike', dimension: 8 });
    await expect(opening).rejects.toThrow(new RegExp(`^Milvus at ${at} is unreachable: .+`));
    await expect(opening).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('gives up after connectTimeoutMs when the server never answers', async () => {
    // Accepts TCP connections and never says a word (a hung server, a wrong port).
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve));
    const at = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    const started = Date.now();
    await expect(
      MilvusVectorIndex.open({
        address: at,
        collection: 'lookalike',
        dimension: 8,
        connectTimeoutMs: 1500
      })
    ).rejects.toThrow(`Milvus at ${at} is unreachable`);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(6_000);
  });
});
