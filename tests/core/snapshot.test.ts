import { describe, expect, it } from 'vitest';
import {
  decodeSnapshot,
  encodeSnapshot,
  quantiseInto,
  searchSnapshot,
  SnapshotBuilder,
  SnapshotFormatError,
  type SnapshotMeta
} from '#core/snapshot';
import { dot, l2Normalize } from '#core/vector';

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function unitVectors(count: number, dimension: number, seed: number, common = 0): Float32Array[] {
  const next = random(seed);
  // A shared component makes every vector alike, as real embeddings are (the hard case for int8).
  const shared = Array.from({ length: dimension }, () => next() - 0.5);
  return Array.from({ length: count }, () =>
    l2Normalize(Array.from({ length: dimension }, (_, j) => next() - 0.5 + common * shared[j]!))
  );
}

const meta = (dimension: number): SnapshotMeta => ({
  version: 'v-1',
  modelId: 'tiny',
  dimension,
  createdAt: 1_700_000_000_000
});

function entriesOf(vectors: Float32Array[]) {
  return vectors.map((vector, i) => ({
    id: 10 + i,
    path: `/photos/ünï-${i}.jpg`,
    width: 100 + i,
    height: 50 + i,
    vector
  }));
}

/** Exact cosine top-k by brute force: the reference. */
function exactTop(vectors: Float32Array[], query: Float32Array, k: number): number[] {
  return vectors
    .map((v, i) => ({ i, s: dot(v, query) }))
    .sort((a, b) => b.s - a.s)
    .slice(0, k)
    .map((x) => x.i);
}

describe('snapshot format', () => {
  it('round-trips ids, paths, sizes, header facts and vectors (within the quantisation step)', () => {
    const vectors = unitVectors(7, 33, 1);
    const bytes = encodeSnapshot(meta(33), entriesOf(vectors));
    const snap = decodeSnapshot(bytes.slice().buffer);
    expect(snap).toMatchObject({ version: 'v-1', modelId: 'tiny', dimension: 33, count: 7 });
    expect(snap.createdAt).toBe(1_700_000_000_000);
    expect(snap.items[3]).toEqual({ id: 13, path: '/photos/ünï-3.jpg', width: 103, height: 53 });
    // Float arrays are views on the bytes, so the centre and scales must be 4-byte aligned.
    expect(snap.centre.byteOffset % 4).toBe(0);
    for (let i = 0; i < 7; i++) {
      let norm2 = 0;
      for (let j = 0; j < 33; j++) {
        const restored = snap.centre[j]! + snap.scales[i]! * snap.residuals[i * 33 + j]!;
        norm2 += restored * restored;
        // Rounding is off by at most half a step.
        expect(Math.abs(restored - vectors[i]![j]!)).toBeLessThanOrEqual(
          snap.scales[i]! / 2 + 1e-6
        );
      }
      // The stored norm is the restored vector's, which is close to 1 (the originals were unit).
      expect(snap.norms[i]).toBeCloseTo(Math.sqrt(norm2), 5);
      expect(snap.norms[i]).toBeCloseTo(1, 2);
    }
  });

  it('reads a Uint8Array at any offset, and an empty collection', () => {
    const bytes = encodeSnapshot(meta(5), entriesOf(unitVectors(3, 5, 2)));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(decodeSnapshot(shifted.subarray(1)).items.map((i) => i.id)).toEqual([10, 11, 12]);
    const empty = decodeSnapshot(encodeSnapshot(meta(5), []));
    expect(empty.count).toBe(0);
    expect(searchSnapshot(empty, new Float32Array(5), 10)).toEqual([]);
  });

  it('refuses truncated, foreign and corrupted files with a clear error', () => {
    const bytes = encodeSnapshot(meta(8), entriesOf(unitVectors(4, 8, 3)));
    const refuse = (data: Uint8Array, why: RegExp) => {
      expect(() => decodeSnapshot(data)).toThrow(SnapshotFormatError);
      expect(() => decodeSnapshot(data)).toThrow(why);
    };
    refuse(bytes.subarray(0, 5), /only 5 bytes/);
    refuse(bytes.subarray(0, bytes.length - 1), /truncated/);
    refuse(bytes.subarray(0, 40), /truncated header|not JSON/);
    refuse(new TextEncoder().encode('<!doctype html><html>offline</html>'), /magic/);
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    refuse(longer, /bytes where the header implies/);
    const badJson = bytes.slice();
    badJson[12] = 0x7b + 1; // '|' instead of '{'
    refuse(badJson, /not JSON/);
    const hugeHeader = bytes.slice();
    new DataView(hugeHeader.buffer).setUint32(8, 0xffffffff, true);
    refuse(hugeHeader, /truncated header/);
  });

  it('quantises symmetrically per vector: error at most half a step, step = max|v − c| / 127', () => {
    const v = new Float32Array([0.5, -0.25, 0.125, 0]);
    const centre = new Float32Array([0, 0, 0, 0.5]);
    const out = new Int8Array(6);
    const scale = quantiseInto(v, centre, out, 2);
    expect(scale).toBeCloseTo(0.5 / 127, 7);
    expect(Array.from(out)).toEqual([0, 0, 127, -64, 32, -127]);
    expect(quantiseInto(centre, centre, out, 0)).toBe(0);
    expect(Array.from(out.subarray(0, 4))).toEqual([0, 0, 0, 0]);
  });

  it('builds the same file page by page as all at once', () => {
    const vectors = unitVectors(10, 6, 4);
    const entries = entriesOf(vectors);
    const whole = encodeSnapshot(meta(6), entries);
    const centre = decodeSnapshot(whole).centre.slice();
    // Chunks of 3 rows: the last chunk is partly used.
    const builder = new SnapshotBuilder(meta(6), centre, 3);
    for (const e of entries) builder.add(e, e.vector);
    expect(builder.count).toBe(10);
    expect(Array.from(builder.finish())).toEqual(Array.from(whole));
  });
});

describe('searchSnapshot', () => {
  it('finds the exact nearest neighbours on a small set, best first, with cosine scores', () => {
    const vectors = unitVectors(50, 24, 5);
    const snap = decodeSnapshot(encodeSnapshot(meta(24), entriesOf(vectors)));
    for (let qi = 0; qi < 50; qi += 7) {
      const hits = searchSnapshot(snap, vectors[qi]!, 5);
      expect(hits).toHaveLength(5);
      // A picture's own vector finds it first, with a cosine close to 1.
      expect(hits[0]).toMatchObject({ index: qi, id: 10 + qi, path: `/photos/ünï-${qi}.jpg` });
      expect(hits[0]!.score).toBeCloseTo(1, 2);
      for (let r = 1; r < hits.length; r++)
        expect(hits[r]!.score).toBeLessThanOrEqual(hits[r - 1]!.score);
      for (const hit of hits)
        expect(hit.score).toBeCloseTo(dot(vectors[hit.index]!, vectors[qi]!), 2);
    }
  });

  it('agrees with exact search on vectors that are all alike (a shared component)', () => {
    // Cosines between these are about 0.9, so the differences int8 must keep are small.
    const vectors = unitVectors(400, 64, 6, 6);
    expect(dot(vectors[0]!, vectors[1]!)).toBeGreaterThan(0.85);
    const snap = decodeSnapshot(encodeSnapshot(meta(64), entriesOf(vectors)));
    const queries = unitVectors(30, 64, 7, 6);
    let overlap = 0;
    for (const q of queries) {
      const exact = new Set(exactTop(vectors, q, 10));
      overlap += searchSnapshot(snap, q, 10).filter((h) => exact.has(h.index)).length;
    }
    expect(overlap / queries.length).toBeGreaterThanOrEqual(9.5);
  });

  it('scores a zero vector 0 rather than NaN', () => {
    const zero = new Float32Array(4);
    const unit = new Float32Array([1, 0, 0, 0]);
    const builder = new SnapshotBuilder(meta(4), new Float32Array(4));
    builder.add({ id: 1, path: '/z.jpg', width: 1, height: 1 }, zero);
    builder.add({ id: 2, path: '/u.jpg', width: 1, height: 1 }, unit);
    const hits = searchSnapshot(decodeSnapshot(builder.finish()), unit, 2);
    expect(hits.map((h) => h.id)).toEqual([2, 1]);
    expect(hits[0]!.score).toBeCloseTo(1, 6);
    expect(hits[1]!.score).toBe(0);
  });

  it('clamps topK to the collection and refuses a query of another length', () => {
    const vectors = unitVectors(3, 4, 8);
    const snap = decodeSnapshot(encodeSnapshot(meta(4), entriesOf(vectors)));
    expect(searchSnapshot(snap, vectors[0]!, 100)).toHaveLength(3);
    expect(searchSnapshot(snap, vectors[0]!, 0)).toEqual([]);
    expect(() => searchSnapshot(snap, new Float32Array(5), 3)).toThrow(/5 values, expected 4/);
  });
});
