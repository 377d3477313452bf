import { execFileSync } from 'node:child_process';
import { readdir, readFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsistencyLevelEnum, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { MilvusVectorIndex } from '../server/stores/milvus/milvus-index';
import { UsearchVectorIndex } from '../server/stores/usearch-index';
import type { VectorIndex } from '../server/stores/vector-index';
import type { VectorSource } from '../server/stores/vector-source';
import type { Row } from './embedding';
import { normalize, prng } from './random-vectors';
import { DIM, clustered, exactTop, measureSearch, percentile, recallHits } from './search';

/**
 * `LOOKALIKE_BENCH_MILVUS_ADDRESS=127.0.0.1:19530 npm run bench -- search-milvus`: the embedded
 * HNSW index and a Milvus server side by side, both through the app's VectorIndex adapters, on the
 * same vectors and the same queries: time to make the vectors searchable, search latency at k=10
 * (one at a time and a few in flight) and recall@10 against exact search.
 */

/** Vectors per upsert call: what an index job's commits hand the index, roughly. */
const UPSERT_BATCH = 1000;
/** Requests in flight for the concurrent measurement (a handful of users searching at once). */
const IN_FLIGHT = 4;

/** The embedded index starts empty: the bench upserts into it as the indexer does. */
const emptySource: VectorSource = {
  latestSeq: async () => 0,
  vectorsChangedSince: async () => [],
  removedSince: async () => []
};

interface QuerySet {
  name: string;
  queries: Float32Array[];
  truths: number[][];
}

/**
 * Two kinds of query: an edited copy of an indexed picture (a stored vector plus noise, cosine
 * ≈ 0.93 to it, like the crops and re-encodes of the quality bench) and a new picture of a known
 * kind (a fresh point of one of the clusters, the search section's queries).
 */
function querySets(vectors: Float32Array[], centres: Float32Array[], count: number): QuerySet[] {
  const random = prng(4);
  const copies = Array.from({ length: count }, () => {
    const source = vectors[Math.floor(random() * vectors.length)]!;
    return normalize(Float32Array.from(source, (x) => x + (random() - 0.5) * 0.03));
  });
  const fresh = clustered(count, 3, centres);
  return [
    { name: 'edited copies', queries: copies, truths: [] },
    { name: 'new pictures', queries: fresh, truths: [] }
  ].map((set) => ({ ...set, truths: set.queries.map((q) => exactTop(vectors, q, 10)) }));
}

interface Measured {
  latencies: number[];
  recallBySet: number[];
  recall: number;
  concurrent?: { qps: number; latencies: number[] };
}

async function measure(
  index: Pick<VectorIndex, 'search'>,
  sets: QuerySet[],
  inFlight: number
): Promise<Measured> {
  const queries = sets.flatMap((s) => s.queries);
  const truths = sets.flatMap((s) => s.truths);
  // A few searches first: connections, caches and lazily loaded pages warm up.
  for (const query of queries.slice(0, 10)) await index.search(query, 10);
  const recallBySet: number[] = [];
  const latencies: number[] = [];
  for (const set of sets) {
    const result = await measureSearch(index, set.queries, set.truths);
    recallBySet.push(result.recall);
    latencies.push(...result.latencies);
  }
  latencies.sort((a, b) => a - b);
  const recall = recallBySet.reduce((a, b) => a + b, 0) / recallBySet.length;
  if (inFlight <= 1) return { latencies, recallBySet, recall };

  // `inFlight` workers pulling from one queue; every answer still checked against the truth.
  const concurrentLatencies: number[] = [];
  let next = 0;
  let hits = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < queries.length) {
        const q = next++;
        const t = performance.now();
        const found = await index.search(queries[q]!, 10);
        concurrentLatencies.push(performance.now() - t);
        hits += recallHits(found, truths[q]!);
      }
    })
  );
  const wallMs = performance.now() - t0;
  if (Math.abs(hits / (queries.length * 10) - recall) > 0.01)
    throw new Error(`recall in flight ${hits / (queries.length * 10)} ≠ one at a time ${recall}`);
  return {
    latencies,
    recallBySet,
    recall,
    concurrent: {
      qps: (queries.length * 1000) / wallMs,
      latencies: concurrentLatencies.sort((a, b) => a - b)
    }
  };
}

async function upsertAll(index: VectorIndex, vectors: Float32Array[]): Promise<void> {
  for (let i = 0; i < vectors.length; i += UPSERT_BATCH) {
    const slice = vectors.slice(i, i + UPSERT_BATCH);
    await index.upsert(slice.map((vector, j) => ({ id: i + j + 1, vector })));
  }
}

/** Resident memory of the local Milvus standalone process (MB), when one runs on this machine. */
async function milvusRssMb(): Promise<number | undefined> {
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!/milvus\0run\0standalone/.test(cmdline)) continue;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    if (kb) return Number(kb) / 1024;
  }
  return undefined;
}

function duMb(dir: string): number {
  return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024;
}

/** Polls until Milvus has built the vector index over every flushed row. */
async function waitForIndex(client: MilvusClient, collection: string, rows: number) {
  for (;;) {
    const res = await client.describeIndex({ collection_name: collection, field_name: 'vector' });
    const index = res.index_descriptions?.[0];
    if (index?.state === 'Failed')
      throw new Error(`index build failed: ${index.index_state_fail_reason}`);
    if (index && Number(index.indexed_rows) >= rows && Number(index.pending_index_rows ?? 0) === 0)
      return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * The adapter's search request (same field, ef, k) at Strong consistency, as the adapter sends it
 * within 10 s of its own writes (else Bounded): shows what waiting for the server's time tick
 * costs each search.
 */
function strongSearch(client: MilvusClient, collection: string): Pick<VectorIndex, 'search'> {
  return {
    async search(query: Float32Array, k: number) {
      const res = await client.search({
        collection_name: collection,
        anns_field: 'vector',
        data: Array.from(query),
        limit: k,
        params: { ef: Math.max(128, k) },
        output_fields: ['id'],
        consistency_level: ConsistencyLevelEnum.Strong
      });
      if (res.status.error_code !== 'Success') throw new Error(res.status.reason);
      return res.results.map((r) => ({ id: Number(r.id), score: Number(r.score) }));
    }
  };
}

function latencyRows(n: string, who: string, m: Measured, sets: QuerySet[]): Row[] {
  const rows: Row[] = [
    { name: `${n}: ${who} search p50`, value: percentile(m.latencies, 50), unit: 'ms' },
    { name: `${n}: ${who} search p99`, value: percentile(m.latencies, 99), unit: 'ms' },
    {
      name: `${n}: ${who} recall@10 vs exact`,
      value: m.recall,
      unit: '',
      note: sets.map((s, i) => `${s.name} ${m.recallBySet[i]!.toFixed(3)}`).join(', ')
    }
  ];
  if (m.concurrent)
    rows.push(
      {
        name: `${n}: ${who} ${IN_FLIGHT} in flight`,
        value: m.concurrent.qps,
        unit: 'searches/s',
        note:
          `p50 ${percentile(m.concurrent.latencies, 50).toFixed(2)} ms, ` +
          `p99 ${percentile(m.concurrent.latencies, 99).toFixed(2)} ms`
      },
      {
        name: `${n}: ${who} one at a time`,
        value: (m.latencies.length * 1000) / m.latencies.reduce((a, b) => a + b, 0),
        unit: 'searches/s'
      }
    );
  return rows;
}

export async function benchSearchMilvus(
  size: number,
  queriesPerSet: number,
  address: string | undefined,
  milvusDataDir: string | undefined
): Promise<Row[]> {
  if (!address) {
    console.log(
      'search-milvus: skipped. Set LOOKALIKE_BENCH_MILVUS_ADDRESS to a Milvus server ' +
        '(host:port, e.g. 127.0.0.1:19530); the bench creates a collection of its own and drops it.'
    );
    return [];
  }
  const n = `${size / 1000}k`;
  const random = prng(1);
  // The search section's centres and vectors (same seeds): the two sections' numbers compare.
  const centres = Array.from({ length: 100 }, () =>
    normalize(Float32Array.from({ length: DIM }, () => random() - 0.5))
  );
  const vectors = clustered(size, 2, centres);
  const tTruth = performance.now();
  const sets = querySets(vectors, centres, queriesPerSet);
  const exactMs = (performance.now() - tTruth) / (2 * queriesPerSet);
  console.log(`search-milvus: ${size} vectors, ${2 * queriesPerSet} queries, exact top-10 ready`);
  const rows: Row[] = [
    { name: `${n}: exact search (JS, one thread) mean`, value: exactMs, unit: 'ms' }
  ];

  // Embedded: the server's UsearchVectorIndex, its defaults (M=16, efC=128, ef=128, 1 thread).
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-bench-search-milvus-'));
  try {
    const path = join(dir, 'vectors.usearch');
    const rssBefore = process.memoryUsage().rss;
    const index = await UsearchVectorIndex.open({ path, dimension: DIM, source: emptySource });
    const t0 = performance.now();
    await upsertAll(index, vectors);
    const addMs = performance.now() - t0;
    await index.flush();
    const totalMs = performance.now() - t0;
    const rssMb = (process.memoryUsage().rss - rssBefore) / 1048576;
    const fileMb = (await stat(path)).size / 1048576;
    console.log(`search-milvus: embedded index built in ${(totalMs / 1000).toFixed(1)} s`);
    const m = await measure(index, sets, 1);
    await index.close();
    rows.push(
      {
        name: `${n}: embedded upsert + save`,
        value: (size * 1000) / totalMs,
        unit: 'vectors/s',
        note: `HNSW adds ${(addMs / 1000).toFixed(1)} s + save ${((totalMs - addMs) / 1000).toFixed(1)} s`
      },
      ...latencyRows(n, 'embedded', m, sets),
      {
        name: `${n}: embedded index file`,
        value: fileMb,
        unit: 'MB',
        note: `process RSS +${rssMb.toFixed(0)} MB while built`
      }
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  // Milvus: the server's MilvusVectorIndex with the index type the app configures by default.
  const collection = `lookalike_bench_search_${process.pid}_${Date.now()}`;
  const client = new MilvusClient({ address, logLevel: 'error' });
  const version = (await client.getVersion()).version;
  const serverRssBefore = await milvusRssMb();
  const diskBefore = milvusDataDir ? duMb(milvusDataDir) : undefined;
  const index = await MilvusVectorIndex.open({ address, collection, dimension: DIM });
  try {
    const t0 = performance.now();
    await upsertAll(index, vectors);
    const insertMs = performance.now() - t0;
    await index.flush();
    const flushMs = performance.now() - t0;
    await waitForIndex(client, collection, size);
    const indexedMs = performance.now() - t0;
    // Search what a restarted server would: sealed segments with their built index, loaded anew.
    await client.releaseCollection({ collection_name: collection });
    const t1 = performance.now();
    await client.loadCollectionSync({ collection_name: collection });
    const loadMs = performance.now() - t1;
    console.log(
      `search-milvus: Milvus ${version} (${index.indexType}) searchable after ` +
        `${(indexedMs / 1000).toFixed(1)} s, loaded in ${(loadMs / 1000).toFixed(1)} s`
    );
    const m = await measure(index, sets, IN_FLIGHT);
    const strong = await measure(strongSearch(client, collection), sets, IN_FLIGHT);
    const count = await index.count();
    if (count !== size) throw new Error(`Milvus counts ${count} vectors, expected ${size}`);
    const serverRssAfter = await milvusRssMb();
    const diskAfter = milvusDataDir ? duMb(milvusDataDir) : undefined;
    rows.push(
      {
        name: `${n}: Milvus upsert + flush`,
        value: (size * 1000) / flushMs,
        unit: 'vectors/s',
        note: `Milvus ${version} at ${address}; upserts ${(insertMs / 1000).toFixed(1)} s + flush ${((flushMs - insertMs) / 1000).toFixed(1)} s`
      },
      {
        name: `${n}: Milvus upsert + flush + ${index.indexType} build`,
        value: (size * 1000) / indexedMs,
        unit: 'vectors/s',
        note: `index built ${((indexedMs - flushMs) / 1000).toFixed(1)} s after the flush`
      },
      { name: `${n}: Milvus load collection`, value: loadMs / 1000, unit: 's' },
      ...latencyRows(n, 'Milvus', m, sets),
      ...latencyRows(n, 'Milvus at Strong consistency (right after own writes)', strong, sets)
    );
    if (serverRssBefore !== undefined && serverRssAfter !== undefined)
      rows.push({
        name: `${n}: Milvus server RSS growth`,
        value: serverRssAfter - serverRssBefore,
        unit: 'MB',
        note: `${serverRssAfter.toFixed(0)} MB in all (a shared server: others' collections count too)`
      });
    if (diskBefore !== undefined && diskAfter !== undefined)
      rows.push({
        name: `${n}: Milvus data directory growth`,
        value: diskAfter - diskBefore,
        unit: 'MB',
        note: milvusDataDir
      });
  } finally {
    await index.close();
    await client.dropCollection({ collection_name: collection }).catch(() => undefined);
    await client.closeConnection();
  }
  return rows;
}
