import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { getManifest } from '../server/models/registry';
import { OfflineSnapshots } from '../server/services/snapshot';
import { SqliteCatalog } from '../server/stores/sqlite/sqlite-catalog';
import {
  decodeSnapshot,
  encodeSnapshot,
  searchSnapshot,
  SnapshotBuilder,
  type Snapshot
} from '#core/snapshot';
import type { Row } from './embedding';
import { normalize, prng } from './random-vectors';

const DIM = 2048;
const QUERIES = 100;
/** The reference variants are slow loops; fewer queries for them. */
const AGREEMENT_QUERIES = 40;

/**
 * Unit vectors around 100 cluster centres plus `shared` × one common direction. shared = 0 is the
 * search benchmark's data; a large shared part mimics real embeddings (and random-weight models),
 * whose vectors all point roughly the same way — the hard case for int8.
 */
function dataset(count: number, seed: number, shared: number): Float32Array[] {
  const random = prng(1);
  const common = normalize(Float32Array.from({ length: DIM }, () => random() - 0.5));
  const centres = Array.from({ length: 100 }, () =>
    normalize(Float32Array.from({ length: DIM }, () => random() - 0.5))
  );
  const next = prng(seed);
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(next() * centres.length)]!;
    const v = new Float32Array(DIM);
    for (let i = 0; i < DIM; i++) v[i] = centre[i]! + (next() - 0.5) * 0.06 + shared * common[i]!;
    return normalize(v);
  });
}

function exactScores(vectors: Float32Array[], query: Float32Array): Float64Array {
  const scores = new Float64Array(vectors.length);
  vectors.forEach((v, i) => {
    let s = 0;
    for (let j = 0; j < DIM; j++) s += v[j]! * query[j]!;
    scores[i] = s;
  });
  return scores;
}

function topOf(scores: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: scores.length }, (_, i) => i)
    .sort((a, b) => scores[b]! - scores[a]!)
    .slice(0, k);
}

/** Scores from the dequantised vectors, optionally not divided by their norms (the variants). */
function referenceScores(snap: Snapshot, query: Float32Array, renormalise: boolean): Float64Array {
  const { count, centre, scales, residuals } = snap;
  const scores = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let dotQ = 0;
    let norm2 = 0;
    for (let j = 0; j < DIM; j++) {
      const x = centre[j]! + scales[i]! * residuals[i * DIM + j]!;
      dotQ += x * query[j]!;
      norm2 += x * x;
    }
    scores[i] = renormalise ? dotQ / Math.sqrt(norm2) : dotQ;
  }
  return scores;
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const meta = { version: 'bench', modelId: 'synthetic-resnet50', dimension: DIM, createdAt: 0 };
const item = (i: number) => ({
  id: i + 1,
  path: `/home/someone/Pictures/2024/album-${String(i % 300).padStart(3, '0')}/IMG_${String(i).padStart(6, '0')}.jpg`,
  width: 4032,
  height: 3024
});

/** Mean top-10 overlap of each variant against exact float search, over the same queries. */
function agreement(vectors: Float32Array[], queries: Float32Array[]) {
  const entries = vectors.map((v, i) => ({ ...item(i), vector: v }));
  const centred = decodeSnapshot(encodeSnapshot(meta, entries));
  const plainBuilder = new SnapshotBuilder(meta, new Float32Array(DIM));
  for (const e of entries) plainBuilder.add(e, e.vector);
  const plain = decodeSnapshot(plainBuilder.finish());
  const sum = { shipped: 0, centredOnly: 0, plain: 0, worst: 10 };
  for (const query of queries) {
    const truth = new Set(topOf(exactScores(vectors, query), 10));
    const overlap = (found: number[]) => found.filter((i) => truth.has(i)).length;
    const shipped = overlap(searchSnapshot(centred, query, 10).map((h) => h.index));
    sum.shipped += shipped;
    sum.worst = Math.min(sum.worst, shipped);
    sum.centredOnly += overlap(topOf(referenceScores(centred, query, false), 10));
    sum.plain += overlap(topOf(referenceScores(plain, query, false), 10));
  }
  const n = queries.length;
  return {
    shipped: sum.shipped / n,
    centredOnly: sum.centredOnly / n,
    plain: sum.plain / n,
    worst: sum.worst
  };
}

/**
 * The offline snapshot for `size` pictures of 2048-d (synthetic clustered unit vectors): bytes,
 * gzip'd bytes, the server's build from a real SQLite catalog, decode, search in Node (the
 * browser worker runs the same code) and top-10 agreement with exact float search.
 */
export async function benchSnapshot(size = 20_000): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-bench-snapshot-'));
  try {
    const vectors = dataset(size, 2, 0);
    const queries = dataset(QUERIES, 3, 0);
    const catalog = await SqliteCatalog.open(join(dir, 'catalog.db'));
    for (let i = 0; i < size; i += 1000) {
      await catalog.addImages(
        vectors.slice(i, i + 1000).map((vector, j) => {
          const { path, width, height } = item(i + j);
          return {
            contentHash: (i + j).toString(16).padStart(64, '0'),
            width,
            height,
            bytes: 1,
            format: 'jpeg',
            dhash: '0'.repeat(16),
            vector,
            file: { path, size: 1, mtimeMs: 0 }
          };
        })
      );
    }
    // What a Collection answers for the snapshot, straight from the catalog (no vector index).
    const snapshots = new OfflineSnapshots({
      model: getManifest('synthetic-resnet50'),
      count: () => catalog.countImages(),
      contentRevision: () => catalog.contentRevision(),
      imagesAfter: (afterId, limit) => catalog.imagesAfter(afterId, limit),
      vectorsChangedSince: (afterSeq, limit) => catalog.vectorsChangedSince(afterSeq, limit)
    });
    let t = performance.now();
    const built = await snapshots.current();
    const buildMs = performance.now() - t;
    t = performance.now();
    await snapshots.current();
    const cachedMs = performance.now() - t;
    await catalog.close();

    const bytes = built.bytes;
    const floatBytes = size * DIM * 4;
    rows.push({
      name: `snapshot size, ${size} × ${DIM}-d`,
      value: bytes.length / 2 ** 20,
      unit: 'MiB',
      note: `${(bytes.length / size).toFixed(0)} B/picture; float32 vectors alone ${(floatBytes / 2 ** 20).toFixed(1)} MiB`
    });
    t = performance.now();
    const gz = gzipSync(bytes).length;
    rows.push({
      name: 'snapshot gzip’d (informational)',
      value: gz / 2 ** 20,
      unit: 'MiB',
      note: `${((100 * gz) / bytes.length).toFixed(0)}% (gzip took ${(performance.now() - t).toFixed(0)} ms)`
    });
    rows.push({
      name: 'server build from SQLite catalog',
      value: buildMs,
      unit: 'ms',
      note: `two passes over the catalog; cached answer ${cachedMs.toFixed(2)} ms`
    });

    const decodeTimes: number[] = [];
    let snap!: Snapshot;
    for (let r = 0; r < 5; r++) {
      // A fresh ArrayBuffer each time, as IndexedDB or fetch() hands one over.
      const copy = bytes.slice().buffer;
      t = performance.now();
      snap = decodeSnapshot(copy);
      decodeTimes.push(performance.now() - t);
    }
    decodeTimes.sort((a, b) => a - b);
    rows.push({
      name: 'decode',
      value: percentile(decodeTimes, 50),
      unit: 'ms',
      note: 'median of 5'
    });

    for (const q of queries.slice(0, 5)) searchSnapshot(snap, q, 10); // warm-up (JIT)
    const latencies = queries.map((q) => {
      const start = performance.now();
      searchSnapshot(snap, q, 10);
      return performance.now() - start;
    });
    latencies.sort((a, b) => a - b);
    rows.push({
      name: 'offline search top-10 p50',
      value: percentile(latencies, 50),
      unit: 'ms',
      note: `${QUERIES} queries, one thread, brute force over int8`
    });
    rows.push({ name: 'offline search top-10 p99', value: percentile(latencies, 99), unit: 'ms' });

    for (const [label, shared] of [
      ['clustered', 0],
      ['clustered + shared direction (all alike)', 3]
    ] as const) {
      const data = shared === 0 ? vectors : dataset(size, 2, shared);
      const qs = shared === 0 ? queries : dataset(QUERIES, 3, shared);
      const a = agreement(data, qs.slice(0, AGREEMENT_QUERIES));
      const cos = exactScores([data[0]!], data[1]!)[0]!;
      rows.push({
        name: `top-10 agreement vs exact float, ${label}`,
        value: a.shipped,
        unit: '/10',
        note:
          `centred + renormalised int8 (shipped), worst ${a.worst}/10; centred only ` +
          `${a.centredOnly.toFixed(2)}, plain int8 ${a.plain.toFixed(2)}; ` +
          `${AGREEMENT_QUERIES} queries; cos(v0, v1) = ${cos.toFixed(2)}`
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
