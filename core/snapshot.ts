/**
 * The offline snapshot of a collection (GET /api/index/snapshot): every picture's id, path and
 * size plus its vector quantised to int8, in one binary file the page keeps in IndexedDB and
 * searches in a worker while the server cannot be reached. Shared by the server (writes it) and
 * the browser (reads and searches it). Thumbnails are not inside: the page shows
 * `/api/images/{id}/thumb` (from its HTTP cache while offline).
 *
 * Layout (all numbers little-endian; every float array starts on a 4-byte boundary):
 *
 *   0         8 bytes   magic "LKSNAP1\0"
 *   8         u32       H = length of the header in bytes
 *   12        H bytes   UTF-8 JSON header (SnapshotHeader):
 *                       {format:1, version, modelId, dimension, count, createdAt,
 *                        items: [[id, path, width, height], …]}   (count items, in id order)
 *   align4    spaces    padding to a multiple of 4 (so JSON.parse of the header still works)
 *   M         f32 × dimension        centre: the collection's mean vector
 *   M+4d      f32 × count            scales, one per picture
 *   M+4d+4n   f32 × count            norms: |centre + scale × residual|, one per picture
 *   M+4d+8n   i8 × count × dimension residuals, row-major: picture i at i × dimension
 *
 * A stored vector is v̂ = centre + scale × residual (symmetric per-vector quantisation of
 * v − centre: scale = max|v − centre| / 127, residual = round((v − centre) / scale)), and the
 * score of a unit query q is the cosine q·v̂ / |v̂| = (q·centre + scale × q·residual) / norm.
 *
 * Why the centre: q·centre is the same for every picture, so the ranking depends on the residuals
 * only, which are small and spread out; int8 then keeps far more of what tells pictures apart
 * than quantising v itself (embeddings share a large common part). Why divide by the norm: the
 * stored vectors were unit, and most of the rounding error that matters lies along v itself
 * (hence along q, for the best matches); dividing it out removes it. Measured on 20k × 2048-d
 * vectors that are all alike (bench/snapshot.ts, 40 queries): mean top-10 overlap with exact
 * float search 9.07 for plain int8, 9.55 centred, 9.78 centred and renormalised (this format).
 */

export const SNAPSHOT_MAGIC = 'LKSNAP1\0';
export const SNAPSHOT_FORMAT = 1;
/** The HTTP content type of the file. */
export const SNAPSHOT_CONTENT_TYPE = 'application/octet-stream';

const PREFIX_BYTES = 12;
const QMAX = 127;

/** One picture as the snapshot lists it; `path` is its first path, as search results give. */
export interface SnapshotItem {
  id: number;
  path: string;
  width: number;
  height: number;
}

/** The JSON header as stored. */
export interface SnapshotHeader {
  format: typeof SNAPSHOT_FORMAT;
  /** Opaque; equal to the server's ETag (without quotes) and GET /api/index/snapshot/version. */
  version: string;
  modelId: string;
  dimension: number;
  count: number;
  /** Unix time in ms when the server built it. */
  createdAt: number;
  items: [id: number, path: string, width: number, height: number][];
}

export interface SnapshotMeta {
  version: string;
  modelId: string;
  dimension: number;
  createdAt: number;
}

/** A decoded snapshot: views over the file's bytes (no copy) and the items as objects. */
export interface Snapshot extends SnapshotMeta {
  count: number;
  items: SnapshotItem[];
  centre: Float32Array;
  scales: Float32Array;
  norms: Float32Array;
  /** count × dimension residuals. */
  residuals: Int8Array;
}

export interface SnapshotHit {
  /** Position in `items`. */
  index: number;
  id: number;
  path: string;
  width: number;
  height: number;
  /** Estimated cosine similarity. */
  score: number;
}

export class SnapshotFormatError extends Error {
  override name = 'SnapshotFormatError';
}

/**
 * Quantises `vector − centre` into `out[offset … offset + dimension)`; returns the scale. A vector
 * equal to the centre gets scale 0 and zero residuals.
 */
export function quantiseInto(
  vector: ArrayLike<number>,
  centre: ArrayLike<number>,
  out: Int8Array,
  offset: number
): number {
  const n = centre.length;
  if (vector.length !== n) throw new Error(`Vector has ${vector.length} values, expected ${n}`);
  let max = 0;
  for (let j = 0; j < n; j++) {
    const a = Math.abs(vector[j]! - centre[j]!);
    if (a > max) max = a;
  }
  if (!(max > 0)) {
    out.fill(0, offset, offset + n);
    return 0;
  }
  // Rounded to float32 first, so the reader multiplies by exactly the scale used here.
  const scale = Math.fround(max / QMAX);
  for (let j = 0; j < n; j++) {
    const q = Math.round((vector[j]! - centre[j]!) / scale);
    out[offset + j] = q > QMAX ? QMAX : q < -QMAX ? -QMAX : q;
  }
  return scale;
}

/** The mean of some vectors (float64 sums), the usual centre. */
/** A running mean of vectors, fed page by page (the server never holds them all). */
export class MeanAccumulator {
  private readonly sum: Float64Array;
  private count = 0;

  constructor(readonly dimension: number) {
    this.sum = new Float64Array(dimension);
  }

  add(vector: ArrayLike<number>): void {
    if (vector.length !== this.dimension)
      throw new Error(`Vector has ${vector.length} values, expected ${this.dimension}`);
    for (let j = 0; j < this.dimension; j++) this.sum[j] = this.sum[j]! + vector[j]!;
    this.count++;
  }

  mean(): Float32Array {
    return Float32Array.from(this.sum, (s) => (this.count > 0 ? s / this.count : 0));
  }
}

export function meanVector(vectors: Iterable<ArrayLike<number>>, dimension: number): Float32Array {
  const mean = new MeanAccumulator(dimension);
  for (const v of vectors) mean.add(v);
  return mean.mean();
}

/**
 * Builds a snapshot one picture at a time, so a server can page through its catalog without
 * holding every float vector: quantised rows are kept in chunks and copied once by finish().
 */
export class SnapshotBuilder {
  private readonly items: SnapshotHeader['items'] = [];
  private readonly chunks: Int8Array[] = [];
  private readonly scaleChunks: Float32Array[] = [];
  private readonly normChunks: Float32Array[] = [];
  private current: Int8Array;
  private currentScales: Float32Array;
  private currentNorms: Float32Array;
  private used = 0;

  constructor(
    private readonly meta: SnapshotMeta,
    private readonly centre: Float32Array,
    private readonly chunkRows = 1024
  ) {
    if (centre.length !== meta.dimension)
      throw new Error(`Centre has ${centre.length} values, expected ${meta.dimension}`);
    this.current = new Int8Array(chunkRows * meta.dimension);
    this.currentScales = new Float32Array(chunkRows);
    this.currentNorms = new Float32Array(chunkRows);
  }

  get count(): number {
    return this.items.length;
  }

  add(item: SnapshotItem, vector: ArrayLike<number>): void {
    if (this.used === this.chunkRows) {
      this.chunks.push(this.current);
      this.scaleChunks.push(this.currentScales);
      this.normChunks.push(this.currentNorms);
      this.current = new Int8Array(this.chunkRows * this.meta.dimension);
      this.currentScales = new Float32Array(this.chunkRows);
      this.currentNorms = new Float32Array(this.chunkRows);
      this.used = 0;
    }
    const { dimension } = this.meta;
    const row = this.used * dimension;
    const scale = Math.fround(quantiseInto(vector, this.centre, this.current, row));
    // The norm of what the reader will reconstruct, not of the original.
    let norm2 = 0;
    for (let j = 0; j < dimension; j++) {
      const x = this.centre[j]! + scale * this.current[row + j]!;
      norm2 += x * x;
    }
    this.currentScales[this.used] = scale;
    this.currentNorms[this.used] = Math.sqrt(norm2);
    this.items.push([item.id, item.path, item.width, item.height]);
    this.used++;
  }

  finish(): Uint8Array<ArrayBuffer> {
    const { dimension } = this.meta;
    const header: SnapshotHeader = {
      format: SNAPSHOT_FORMAT,
      version: this.meta.version,
      modelId: this.meta.modelId,
      dimension,
      count: this.items.length,
      createdAt: this.meta.createdAt,
      items: this.items
    };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const layout = layoutOf(json.length, dimension, header.count);
    const out = new Uint8Array(layout.total);
    const view = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) out[i] = SNAPSHOT_MAGIC.charCodeAt(i);
    view.setUint32(8, json.length, true);
    out.set(json, PREFIX_BYTES);
    out.fill(0x20, PREFIX_BYTES + json.length, layout.centre);
    for (let j = 0; j < dimension; j++)
      view.setFloat32(layout.centre + 4 * j, this.centre[j]!, true);
    const rows = [...this.chunks, this.current];
    const scaleRows = [...this.scaleChunks, this.currentScales];
    const normRows = [...this.normChunks, this.currentNorms];
    let written = 0;
    for (let c = 0; c < rows.length; c++) {
      const n = c === rows.length - 1 ? this.used : this.chunkRows;
      const scales = scaleRows[c]!;
      const norms = normRows[c]!;
      for (let i = 0; i < n; i++) {
        view.setFloat32(layout.scales + 4 * (written + i), scales[i]!, true);
        view.setFloat32(layout.norms + 4 * (written + i), norms[i]!, true);
      }
      out.set(
        new Uint8Array(rows[c]!.buffer, 0, n * dimension),
        layout.residuals + written * dimension
      );
      written += n;
    }
    return out;
  }
}

/** Builds a snapshot of in-memory vectors, centred on their mean (tests, benchmarks). */
export function encodeSnapshot(
  meta: SnapshotMeta,
  entries: readonly (SnapshotItem & { vector: ArrayLike<number> })[]
): Uint8Array<ArrayBuffer> {
  const builder = new SnapshotBuilder(
    meta,
    meanVector(
      entries.map((e) => e.vector),
      meta.dimension
    )
  );
  for (const entry of entries) builder.add(entry, entry.vector);
  return builder.finish();
}

function layoutOf(headerBytes: number, dimension: number, count: number) {
  const centre = align4(PREFIX_BYTES + headerBytes);
  const scales = centre + 4 * dimension;
  const norms = scales + 4 * count;
  const residuals = norms + 4 * count;
  return { centre, scales, norms, residuals, total: residuals + count * dimension };
}

const align4 = (n: number) => (n + 3) & ~3;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reads a snapshot, checking everything a truncated, foreign or corrupted file would get wrong.
 * The arrays are views over `data` when it is 4-byte aligned (an ArrayBuffer always is).
 */
export function decodeSnapshot(data: ArrayBuffer | Uint8Array): Snapshot {
  let bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.byteOffset % 4 !== 0) bytes = bytes.slice();
  const fail = (why: string): never => {
    throw new SnapshotFormatError(`Not a usable Lookalike snapshot: ${why}`);
  };
  if (bytes.length < PREFIX_BYTES) fail(`only ${bytes.length} bytes`);
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== SNAPSHOT_MAGIC.charCodeAt(i)) fail('wrong magic (not a snapshot file)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = view.getUint32(8, true);
  if (PREFIX_BYTES + headerBytes > bytes.length) fail('truncated header');
  let header: SnapshotHeader;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(
        bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes)
      )
    ) as SnapshotHeader;
  } catch {
    return fail('the header is not JSON');
  }
  checkHeader(header, fail);
  const { dimension, count } = header;
  const layout = layoutOf(headerBytes, dimension, count);
  if (bytes.length !== layout.total) {
    fail(`${bytes.length} bytes where the header implies ${layout.total} (truncated?)`);
  }
  const at = (offset: number) => bytes.byteOffset + offset;
  const floats = (offset: number, length: number) =>
    LITTLE_ENDIAN
      ? new Float32Array(bytes.buffer, at(offset), length)
      : Float32Array.from({ length }, (_, i) => view.getFloat32(offset + 4 * i, true));
  const centre = floats(layout.centre, dimension);
  const scales = floats(layout.scales, count);
  const norms = floats(layout.norms, count);
  const residuals = new Int8Array(bytes.buffer, at(layout.residuals), count * dimension);
  for (let j = 0; j < dimension; j++) if (!Number.isFinite(centre[j])) fail('centre not finite');
  for (let i = 0; i < count; i++) {
    if (!(scales[i]! >= 0 && scales[i]! < Infinity)) fail(`scale ${i} is not finite and ≥ 0`);
    if (!(norms[i]! >= 0 && norms[i]! < Infinity)) fail(`norm ${i} is not finite and ≥ 0`);
  }
  return {
    version: header.version,
    modelId: header.modelId,
    dimension,
    createdAt: header.createdAt,
    count,
    items: header.items.map(([id, path, width, height]) => ({ id, path, width, height })),
    centre,
    scales,
    norms,
    residuals
  };
}

function checkHeader(h: SnapshotHeader, fail: (why: string) => never): void {
  if (typeof h !== 'object' || h === null) fail('the header is not an object');
  if (h.format !== SNAPSHOT_FORMAT) fail(`format ${String(h.format)}, expected ${SNAPSHOT_FORMAT}`);
  if (typeof h.version !== 'string' || typeof h.modelId !== 'string')
    fail('version or modelId missing');
  if (!Number.isInteger(h.dimension) || h.dimension < 1) fail('bad dimension');
  if (!Number.isInteger(h.count) || h.count < 0) fail('bad count');
  if (typeof h.createdAt !== 'number') fail('bad createdAt');
  if (!Array.isArray(h.items) || h.items.length !== h.count) fail('items do not match the count');
  for (const item of h.items) {
    if (
      !Array.isArray(item) ||
      !Number.isSafeInteger(item[0]) ||
      typeof item[1] !== 'string' ||
      typeof item[2] !== 'number' ||
      typeof item[3] !== 'number'
    ) {
      fail(`bad item ${JSON.stringify(item)?.slice(0, 100)}`);
    }
  }
}

/**
 * The `topK` pictures most similar to a unit query, best first: one pass of float × int8 dot
 * products (score = (q·centre + scale × q·residual) / norm) with a small sorted top-k.
 */
export function searchSnapshot(
  snapshot: Snapshot,
  query: ArrayLike<number>,
  topK: number
): SnapshotHit[] {
  const { dimension: d, count, residuals, scales, norms, centre } = snapshot;
  if (query.length !== d) throw new Error(`Query has ${query.length} values, expected ${d}`);
  const k = Math.min(Math.max(0, Math.floor(topK)), count);
  if (k === 0) return [];
  const q = Float32Array.from(query);
  let base = 0;
  for (let j = 0; j < d; j++) base += q[j]! * centre[j]!;

  // Sorted descending; bestScores[k - 1] is the bar a candidate must beat.
  const bestScores = new Float64Array(k).fill(-Infinity);
  const bestIndex = new Int32Array(k).fill(-1);
  const tail = d & ~3;
  for (let i = 0, row = 0; i < count; i++, row += d) {
    // Four accumulators: independent chains the JIT can overlap.
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let j = 0;
    for (; j < tail; j += 4) {
      a0 += q[j]! * residuals[row + j]!;
      a1 += q[j + 1]! * residuals[row + j + 1]!;
      a2 += q[j + 2]! * residuals[row + j + 2]!;
      a3 += q[j + 3]! * residuals[row + j + 3]!;
    }
    for (; j < d; j++) a0 += q[j]! * residuals[row + j]!;
    const norm = norms[i]!;
    // A zero vector (norm 0) scores 0, like cosine() does.
    const score = norm > 0 ? (base + scales[i]! * (a0 + a1 + a2 + a3)) / norm : 0;
    if (score <= bestScores[k - 1]!) continue;
    let p = k - 1;
    while (p > 0 && bestScores[p - 1]! < score) {
      bestScores[p] = bestScores[p - 1]!;
      bestIndex[p] = bestIndex[p - 1]!;
      p--;
    }
    bestScores[p] = score;
    bestIndex[p] = i;
  }
  const hits: SnapshotHit[] = [];
  for (let p = 0; p < k; p++) {
    const index = bestIndex[p]!;
    const item = snapshot.items[index]!;
    hits.push({ index, ...item, score: bestScores[p]! });
  }
  return hits;
}
