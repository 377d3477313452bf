import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MilvusVectorIndex } from '../server/stores/milvus/milvus-index';
import { SqliteCatalog } from '../server/stores/sqlite/sqlite-catalog';
import { UsearchVectorIndex } from '../server/stores/usearch-index';
import type { VectorIndex } from '../server/stores/vector-index';
import type { Row } from './embedding';
import { normalize, prng } from './random-vectors';

const DIM = 2048;

/** Unit vectors around 100 cluster centres: photo collections are clustered, not uniform. */
function clustered(count: number, seed: number, centres: Float32Array[]): Float32Array[] {
  const random = prng(seed);
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(random() * centres.length)]!;
    const v = new Float32Array(DIM);
    for (let i = 0; i < DIM; i++) v[i] = centre[i]! + (random() - 0.5) * 0.06;
    return normalize(v);
  });
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function exactTop(vectors: Float32Array[], query: Float32Array, k: number): number[] {
  const scores = vectors.map((v, id) => {
    let s = 0;
    for (let i = 0; i < DIM; i++) s += v[i]! * query[i]!;
    return { id, s };
  });
  return scores
    .sort((a, b) => b.s - a.s)
    .slice(0, k)
    .map((x) => x.id);
}

/**
 * Top-10 latency of every query (sorted) and recall@10 against exact search. Ids are 1-based in
 * insertion order, as catalog ids are.
 */
async function measureSearch(
  index: Pick<VectorIndex, 'search'>,
  vectors: Float32Array[],
  queries: Float32Array[]
): Promise<{ latencies: number[]; recall: number }> {
  const latencies: number[] = [];
  let hits = 0;
  for (const query of queries) {
    const t = performance.now();
    const found = await index.search(query, 10);
    latencies.push(performance.now() - t);
    const truth = new Set(exactTop(vectors, query, 10).map((i) => i + 1));
    hits += found.filter((m) => truth.has(m.id)).length;
  }
  return { latencies: latencies.sort((a, b) => a - b), recall: hits / (queries.length * 10) };
}

/**
 * The same vectors and queries through Milvus (whatever LOOKALIKE_BENCH_MILVUS points at: Milvus
 * Lite in tests/infra, or a real server): insert rate, search latency and recall@10.
 */
async function benchMilvus(
  address: string,
  vectors: Float32Array[],
  queries: Float32Array[],
  n: string
): Promise<Row[]> {
  const collection = `bench_${Date.now()}`;
  const index = await MilvusVectorIndex.open({ address, collection, dimension: DIM });
  try {
    const t0 = performance.now();
    for (let i = 0; i < vectors.length; i += 500) {
      await index.upsert(vectors.slice(i, i + 500).map((vector, j) => ({ id: i + j + 1, vector })));
    }
    await index.flush();
    const insertMs = performance.now() - t0;
    await index.search(queries[0]!, 10); // first search waits for the index
    const { latencies, recall } = await measureSearch(index, vectors, queries);
    return [
      {
        name: `${n}: Milvus insert + flush`,
        value: (vectors.length * 1000) / insertMs,
        unit: 'vectors/s',
        note: address
      },
      { name: `${n}: Milvus search p50`, value: percentile(latencies, 50), unit: 'ms' },
      { name: `${n}: Milvus search p99`, value: percentile(latencies, 99), unit: 'ms' },
      { name: `${n}: Milvus recall@10 vs exact`, value: recall, unit: '' }
    ];
  } finally {
    await index.clear().catch(() => undefined);
    await index.close();
  }
}

/**
 * Search latency and recall@10 of the embedded HNSW index against exact search, and start-up time
 * and memory of a collection of that size (no rebuild when the snapshot is current).
 */
export async function benchSearch(sizes: number[], threads: number): Promise<Row[]> {
  const rows: Row[] = [];
  const random = prng(1);
  const centres = Array.from({ length: 100 }, () =>
    normalize(Float32Array.from({ length: DIM }, () => random() - 0.5))
  );
  for (const size of sizes) {
    const dir = await mkdtemp(join(tmpdir(), 'lookalike-bench-search-'));
    try {
      const vectors = clustered(size, 2, centres);
      const queries = clustered(200, 3, centres);
      const catalog = await SqliteCatalog.open(join(dir, 'catalog.db'));
      await catalog.claimCollection({ modelId: 'synthetic-resnet50', dimension: DIM });
      const t0 = performance.now();
      for (let i = 0; i < size; i += 1000) {
        const slice = vectors.slice(i, i + 1000);
        const { ids } = await catalog.addImages(
          slice.map((vector, j) => ({
            contentHash: (i + j).toString(16).padStart(64, '0'),
            width: 640,
            height: 480,
            bytes: 1,
            format: 'jpeg',
            dhash: '0'.repeat(16),
            vector,
            file: { path: `/photos/${i + j}.jpg`, size: 1, mtimeMs: 0 }
          }))
        );
        await catalog.markIndexed(ids);
      }
      const insertMs = performance.now() - t0;
      const t1 = performance.now();
      // Single-threaded adds: multi-threaded usearch inserts can leave unreachable vectors (USearch#735).
      const index = await UsearchVectorIndex.open({
        path: join(dir, 'vectors.usearch'),
        dimension: DIM,
        source: catalog
      });
      const buildMs = performance.now() - t1;

      const { latencies, recall } = await measureSearch(index, vectors, queries);
      const exactTimes: number[] = [];
      for (const query of queries.slice(0, 20)) {
        const t = performance.now();
        exactTop(vectors, query, 10);
        exactTimes.push(performance.now() - t);
      }
      exactTimes.sort((a, b) => a - b);
      await index.close();
      await catalog.close();

      const started = execFileSync(
        process.execPath,
        ['--import', 'tsx', 'bench/startup-child.ts', dir],
        {
          encoding: 'utf8',
          env: { ...process.env, LOOKALIKE_THREADS: String(threads) }
        }
      );
      const startup = JSON.parse(started) as { openMs: number; rssMb: number; count: number };
      if (startup.count !== size)
        throw new Error(`start-up saw ${startup.count} vectors, expected ${size}`);

      const n = `${size / 1000}k`;
      const milvusRows = process.env.LOOKALIKE_BENCH_MILVUS
        ? await benchMilvus(process.env.LOOKALIKE_BENCH_MILVUS, vectors, queries, n)
        : [];
      rows.push(
        { name: `${n}: catalog insert`, value: (size * 1000) / insertMs, unit: 'vectors/s' },
        { name: `${n}: HNSW build (M=16, efC=128)`, value: buildMs / 1000, unit: 's' },
        {
          name: `${n}: HNSW search p50`,
          value: percentile(latencies, 50),
          unit: 'ms',
          note: 'target p50 ≤ 2 ms at 100k'
        },
        { name: `${n}: HNSW search p99`, value: percentile(latencies, 99), unit: 'ms' },
        {
          name: `${n}: recall@10 vs exact`,
          value: recall,
          unit: '',
          note: 'target ≥ 0.95'
        },
        { name: `${n}: exact search (JS) p50`, value: percentile(exactTimes, 50), unit: 'ms' },
        {
          name: `${n}: start-up (open catalog + index snapshot)`,
          value: startup.openMs / 1000,
          unit: 's',
          note: 'target ≤ 3 s at 100k'
        },
        { name: `${n}: resident memory after start-up`, value: startup.rssMb, unit: 'MB' },
        ...milvusRows
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
