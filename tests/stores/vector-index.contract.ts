import { afterEach, describe, expect, it } from 'vitest';
import type { VectorIndex } from '../../server/stores/vector-index';

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sample (Box–Muller). */
function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const n = Math.sqrt(sum);
  return v.map((x) => x / n);
}

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** `count` random unit vectors, uniform on the sphere. */
export function unitVectors(count: number, dimension: number, seed: number): Float32Array[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () =>
    normalize(Float32Array.from({ length: dimension }, () => gaussian(rand)))
  );
}

/**
 * Unit vectors around `clusters` random centres, like embeddings of similar pictures: the hard
 * case for HNSW, whose neighbours are many and close. `spread` is the noise per coordinate
 * relative to a centre coordinate (1/√d).
 */
export function clusteredUnitVectors(
  count: number,
  dimension: number,
  seed: number,
  clusters = 20,
  spread = 0.8
): Float32Array[] {
  const rand = seededRandom(seed);
  const centres = unitVectors(clusters, dimension, seed + 1);
  const sigma = spread / Math.sqrt(dimension);
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(rand() * clusters)]!;
    return normalize(centre.map((x) => x + sigma * gaussian(rand)));
  });
}

/** Exact top-k ids by inner product (= cosine for unit vectors), best first. */
export function exactTopK(
  entries: readonly { id: number; vector: Float32Array }[],
  query: Float32Array,
  k: number
): number[] {
  return entries
    .map(({ id, vector }) => ({ id, score: dot(query, vector) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map((m) => m.id);
}

/** Ids that are not 0..n-1, so an index that confuses keys with slots gets caught. */
export const idOf = (i: number) => 1000 + i * 7;

export function entriesOf(vectors: readonly Float32Array[], firstIndex = 0) {
  return vectors.map((vector, i) => ({ id: idOf(firstIndex + i), vector }));
}

/**
 * The behaviour every VectorIndex must share (usearch in process, Milvus over the network).
 * `create` returns an empty index of the given dimension and how to dispose of it.
 */
export function describeVectorIndexContract(
  name: string,
  create: (dimension: number) => Promise<{ index: VectorIndex; cleanup: () => Promise<void> }>
): void {
  describe(`VectorIndex contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()!();
    });
    async function make(dimension: number): Promise<VectorIndex> {
      const { index, cleanup } = await create(dimension);
      cleanups.push(cleanup);
      expect(index.dimension).toBe(dimension);
      return index;
    }

    const D = 32;

    it('finds each inserted vector itself first, with score ≈ 1', async () => {
      const index = await make(D);
      const entries = entriesOf(unitVectors(60, D, 1));
      await index.upsert(entries);
      expect(await index.count()).toBe(60);
      for (const { id, vector } of entries) {
        const [best] = await index.search(vector, 3);
        expect(best?.id).toBe(id);
        expect(best?.score).toBeCloseTo(1, 4);
      }
    });

    it('scores are cosine similarities, best first, matching exact search', async () => {
      const index = await make(D);
      const entries = entriesOf(unitVectors(60, D, 2));
      await index.upsert(entries);
      const byId = new Map(entries.map((e) => [e.id, e.vector]));
      for (const query of unitVectors(5, D, 3)) {
        const matches = await index.search(query, 10);
        expect(matches).toHaveLength(10);
        expect(matches.map((m) => m.id)).toEqual(exactTopK(entries, query, 10));
        for (const [i, m] of matches.entries()) {
          expect(Math.abs(m.score - dot(query, byId.get(m.id)!))).toBeLessThan(1e-4);
          if (i > 0) expect(m.score).toBeLessThanOrEqual(matches[i - 1]!.score);
        }
      }
    });

    it('returns every vector when k exceeds the count; [] on an empty index', async () => {
      const index = await make(D);
      expect(await index.search(unitVectors(1, D, 4)[0]!, 5)).toEqual([]);
      const entries = entriesOf(unitVectors(7, D, 5));
      await index.upsert(entries);
      const matches = await index.search(entries[0]!.vector, 50);
      expect(matches.map((m) => m.id).sort()).toEqual(entries.map((e) => e.id).sort());
    });

    it('upsert of an existing id replaces its vector', async () => {
      const index = await make(D);
      const entries = entriesOf(unitVectors(20, D, 6));
      await index.upsert(entries);
      const [fresh] = unitVectors(1, D, 7);
      const target = entries[4]!;
      await index.upsert([{ id: target.id, vector: fresh! }]);
      expect(await index.count()).toBe(20);
      const [best] = await index.search(fresh!, 1);
      expect(best).toEqual({ id: target.id, score: expect.closeTo(1, 4) });
      // The old vector is gone: searching for it no longer finds an exact match.
      const old = await index.search(target.vector, 20);
      expect(old[0]!.score).toBeLessThan(0.99);
      expect(old.find((m) => m.id === target.id)?.score).toBeCloseTo(dot(fresh!, target.vector), 4);
      // Upserting the same batch again changes nothing.
      await index.upsert(entries.slice(0, 10));
      expect(await index.count()).toBe(20);
    });

    it('remove: the vector is no longer found and the count drops', async () => {
      const index = await make(D);
      const entries = entriesOf(unitVectors(30, D, 8));
      await index.upsert(entries);
      const gone = [entries[3]!, entries[17]!];
      await index.remove(gone.map((e) => e.id));
      expect(await index.count()).toBe(28);
      for (const e of gone) {
        const ids = (await index.search(e.vector, 30)).map((m) => m.id);
        expect(ids).toHaveLength(28);
        expect(ids).not.toContain(e.id);
      }
      const [best] = await index.search(entries[4]!.vector, 1);
      expect(best?.id).toBe(entries[4]!.id);
    });

    it('removing unknown ids (or none) is harmless', async () => {
      const index = await make(D);
      const entries = entriesOf(unitVectors(10, D, 9));
      await index.upsert(entries);
      await index.remove([3, 999_999, idOf(10)]);
      await index.remove([]);
      await index.remove([entries[0]!.id, entries[0]!.id]);
      expect(await index.count()).toBe(9);
      expect((await index.search(entries[1]!.vector, 1))[0]?.id).toBe(entries[1]!.id);
    });

    it('clear empties the index and it stays usable', async () => {
      const index = await make(D);
      await index.upsert(entriesOf(unitVectors(25, D, 10)));
      await index.clear();
      expect(await index.count()).toBe(0);
      expect(await index.search(unitVectors(1, D, 11)[0]!, 5)).toEqual([]);
      const again = entriesOf(unitVectors(5, D, 12), 100);
      await index.upsert(again);
      expect(await index.count()).toBe(5);
      const [best] = await index.search(again[2]!.vector, 1);
      expect(best?.id).toBe(again[2]!.id);
    });

    it('reads vectors and queries that are views into a larger buffer', async () => {
      const index = await make(D);
      const vectors = unitVectors(12, D, 13);
      const buffer = new Float32Array((vectors.length + 1) * D);
      vectors.forEach((v, i) => buffer.set(v, (i + 1) * D));
      const views = vectors.map((_, i) => buffer.subarray((i + 1) * D, (i + 2) * D));
      await index.upsert(views.map((vector, i) => ({ id: idOf(i), vector })));
      for (const [i, view] of views.entries()) {
        const [best] = await index.search(view, 1);
        expect(best?.id).toBe(idOf(i));
        expect(best?.score).toBeCloseTo(1, 4);
      }
    });

    it('rejects a query or a vector of the wrong dimension', async () => {
      const index = await make(D);
      await index.upsert(entriesOf(unitVectors(3, D, 14)));
      await expect(index.search(new Float32Array(D + 1), 1)).rejects.toThrow(/dimension/);
      await expect(index.search(new Float32Array(D - 1), 1)).rejects.toThrow(/dimension/);
      await expect(index.upsert([{ id: 1, vector: new Float32Array(D + 1) }])).rejects.toThrow();
      expect(await index.count()).toBe(3);
    });

    it('recall@10 ≥ 0.95 against exact search (2000 clustered 256-d vectors)', async () => {
      const dimension = 256;
      const index = await make(dimension);
      // Queries come from the same clusters as the data, but are not in the index.
      const vectors = clusteredUnitVectors(2100, dimension, 15);
      const entries = entriesOf(vectors.slice(0, 2000));
      const queries = vectors.slice(2000);
      // Several batches, as an indexer would send them.
      for (let i = 0; i < entries.length; i += 500) await index.upsert(entries.slice(i, i + 500));
      expect(await index.count()).toBe(2000);
      let hits = 0;
      for (const query of queries) {
        const exact = new Set(exactTopK(entries, query, 10));
        const found = await index.search(query, 10);
        hits += found.filter((m) => exact.has(m.id)).length;
      }
      const recall = hits / (queries.length * 10);
      expect(recall).toBeGreaterThanOrEqual(0.95);
    });
  });
}
