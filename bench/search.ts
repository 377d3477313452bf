import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteCatalog } from '../server/stores/sqlite/sqlite-catalog';
import { UsearchVectorIndex } from '../server/stores/usearch-index';
import type { VectorIndex } from '../server/stores/vector-index';
import type { Row } from './embedding';
import { normalize, prng } from './random-vectors';

export const DIM = 2048;

/** Unit vectors around 100 cluster centres: photo collections are clustered, not uniform. */
export function clustered(count: number, seed: number, centres: Float32Array[]): Float32Array[] {
  const random = prng(seed);
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(random() * centres.length)]!;
    const v = new Float32Array(DIM);
    for (let i = 0; i < DIM; i++) v[i] = centre[i]! + (random() - 0.5) * 0.06;
    return normalize(v);
  });
}

export function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Ids (0-based positions in `vectors`) of the `k` best inner products with `query`, best first:
 * the ground truth recall is measured against. Keeps only the best k while scanning (no sort of
 * every score), so 100k × 2048 stays a fraction of a second per query.
 */
export function exactTop(vectors: Float32Array[], query: Float32Array, k: number): number[] {
  const ids: number[] = [];
  const scores: number[] = [];
  for (let id = 0; id < vectors.length; id++) {
    const v = vectors[id]!;
    let s = 0;
    for (let i = 0; i < DIM; i++) s += v[i]! * query[i]!;
    if (ids.length === k && s <= scores[k - 1]!) continue;
    let at = ids.length === k ? k - 1 : ids.length;
    while (at > 0 && scores[at - 1]! < s) {
      ids[at] = ids[at - 1]!;
      scores[at] = scores[at - 1]!;
      at--;
    }
    ids[at] = id;
    scores[at] = s;
  }
  return ids;
}

/**
 * Top-10 latency of every query (sorted), one at a time, and recall@10 against `truths` (each
 * query's exact top-10 from exactTop). Index ids are 1-based in insertion order, as catalog ids are.
 */
export async function measureSearch(
  index: Pick<VectorIndex, 'search'>,
  queries: Float32Array[],
  truths: number[][]
): Promise<{ latencies: number[]; recall: number }> {
  const latencies: number[] = [];
  let hits = 0;
  for (const [q, query] of queries.entries()) {
    const t = performance.now();
    const found = await index.search(query, 10);
    latencies.push(performance.now() - t);
    hits += recallHits(found, truths[q]!);
  }
  return { latencies: latencies.sort((a, b) => a - b), recall: hits / (queries.length * 10) };
}

/** How many of `truth` (0-based positions) the found matches (1-based ids) contain. */
export function recallHits(found: readonly { id: number }[], truth: readonly number[]): number {
  const wanted = new Set(truth.map((i) => i + 1));
  return found.filter((m) => wanted.has(m.id)).length;
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

      const truths = queries.map((query) => exactTop(vectors, query, 10));
      const { latencies, recall } = await measureSearch(index, queries, truths);
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
        { name: `${n}: resident memory after start-up`, value: startup.rssMb, unit: 'MB' }
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
