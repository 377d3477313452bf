import { createReadStream } from 'node:fs';
import { mkdir, open as openFile, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { Index, MetricKind, ScalarKind } from 'usearch';
import type { VectorEntry, VectorIndex, VectorMatch } from './vector-index';
import type { VectorSource } from './vector-source';

export interface UsearchIndexOptions {
  /** The index file; its sidecar is `${path}.json`. */
  path: string;
  dimension: number;
  source: VectorSource;
  /** HNSW M (graph degree). Changing it rebuilds the saved index. */
  connectivity?: number;
  expansionAdd?: number;
  expansionSearch?: number;
  /**
   * Threads for batched inserts (0 = every core). Default 1: usearch ≤ 2.25 has a race in
   * concurrent add() that leaves some nodes unreachable by search (unum-cloud/USearch#735);
   * measured here, 2–30 of 2500 vectors could never be found, not even by their own vector.
   */
  threads?: number;
  onRebuild?: (info: { reason: string; count: number }) => void;
}

/** `bytes` and `crc32` guard index.load() from files it did not write: see #loadSaved. */
interface Sidecar {
  format: 1;
  dimension: number;
  seq: number;
  count: number;
  connectivity: number;
  bytes: number;
  crc32: number;
  /** The file's mtime right after it was saved: while it is unchanged the CRC read is skipped. */
  mtimeMs?: number;
}

const PAGE = 1000;
/** Native adds copy into one flat buffer: bound it (1024 × 2048 × 4 B = 8 MiB). */
const ADD_CHUNK = 1024;
/** Replaying this many changes at start costs about as much as saving the index again. */
const CATCH_UP_FLUSH_AT = 1000;

/** Embedded HNSW index (usearch, cosine, f32) kept in step with the catalog by its change seq. */
export class UsearchVectorIndex implements VectorIndex {
  readonly kind = 'usearch-hnsw';
  #index: Index;
  #flushing: Promise<void> = Promise.resolve();
  /** Changed in memory since the last save or load. */
  #dirty = false;
  #closed = false;

  private constructor(
    readonly dimension: number,
    private readonly opts: Required<Omit<UsearchIndexOptions, 'onRebuild'>>
  ) {
    this.#index = this.#newIndex();
  }

  static async open(options: UsearchIndexOptions): Promise<UsearchVectorIndex> {
    const { connectivity = 16, expansionAdd = 128, expansionSearch = 128, threads = 1 } = options;
    const opts = { ...options, connectivity, expansionAdd, expansionSearch, threads };
    const self = new UsearchVectorIndex(options.dimension, opts);
    // Everything committed up to `target` is applied below; later commits may be too (replay is
    // idempotent), so `target` is the seq it is safe to record as covered.
    const target = await options.source.latestSeq();
    const saved = await self.#loadSaved(target);
    if (typeof saved !== 'string') {
      const applied = await self.#catchUp(saved.seq);
      if (applied >= CATCH_UP_FLUSH_AT) await self.#save(target);
    } else {
      self.#index = self.#newIndex(); // a failed load may leave it half-filled
      await self.#catchUp(0);
      options.onRebuild?.({ reason: saved, count: self.#index.size() });
      await self.#save(target);
    }
    return self;
  }

  /** Deletes a saved index and its sidecar (a deleted collection's); missing files are fine. */
  static async removeFiles(path: string): Promise<void> {
    await rm(path, { force: true });
    await rm(`${path}.json`, { force: true });
  }

  async upsert(entries: readonly VectorEntry[]): Promise<void> {
    const index = this.#live();
    // Last write wins within a batch: usearch refuses a key twice, even inside one add().
    const latest = new Map<number, Float32Array>();
    for (const { id, vector } of entries) {
      if (!Number.isSafeInteger(id) || id < 0)
        throw new Error(`Vector id must be a non-negative integer, got ${id}`);
      if (vector.length !== this.dimension)
        throw new Error(`Vector ${id} has ${vector.length} dimensions, expected ${this.dimension}`);
      latest.set(id, vector);
    }
    const ids = [...latest.keys()];
    for (let start = 0; start < ids.length; start += ADD_CHUNK) {
      const chunk = ids.slice(start, start + ADD_CHUNK);
      const keys = BigUint64Array.from(chunk, BigInt);
      const present = index.contains(keys) as boolean[];
      const stale = keys.filter((_, i) => present[i]);
      if (stale.length > 0) index.remove(stale);
      this.#dirty = true;
      // Copying into one flat buffer also sidesteps usearch's byteOffset bug for subarray views.
      const flat = new Float32Array(chunk.length * this.dimension);
      chunk.forEach((id, i) => flat.set(latest.get(id)!, i * this.dimension));
      index.add(keys, flat, this.opts.threads);
    }
  }

  async remove(ids: readonly number[]): Promise<void> {
    const keys = ids.filter((id) => Number.isSafeInteger(id) && id >= 0).map(BigInt);
    if (keys.length === 0) return;
    this.#live().remove(BigUint64Array.from(keys)); // unknown keys: 0 removed
    this.#dirty = true;
  }

  async search(query: Float32Array, k: number): Promise<VectorMatch[]> {
    const index = this.#live();
    if (query.length !== this.dimension)
      throw new Error(`Query has ${query.length} dimensions, expected ${this.dimension}`);
    const wanted = Math.min(Math.floor(k), index.size());
    if (!(wanted > 0)) return [];
    // Index.search honours byteOffset (only exactSearch ignores it), but a copy is cheap insurance.
    const q = query.byteOffset === 0 ? query : query.slice();
    // One query: one thread (more only spawns idle workers).
    const { keys, distances } = index.search(q, wanted, 1);
    // The 'cos' metric returns 1 − cosine.
    return Array.from(keys, (key, i) => ({ id: Number(key), score: 1 - distances[i]! }));
  }

  async count(): Promise<number> {
    return this.#live().size();
  }

  async clear(): Promise<void> {
    this.#live();
    this.#index = this.#newIndex();
    this.#dirty = true;
  }

  async flush(): Promise<void> {
    this.#live();
    // Read-only sessions (search, count) must not rewrite a 100k-vector snapshot on close.
    if (!this.#dirty) return;
    this.#dirty = false;
    await this.#save(await this.opts.source.latestSeq());
  }

  async close(): Promise<void> {
    await this.#flushing.catch(() => undefined);
    this.#closed = true; // the native index is freed when garbage-collected
  }

  /** The file is this server's alone, and a collection id is never used again: safe to delete. */
  async discardLocal(): Promise<void> {
    await this.close();
    await UsearchVectorIndex.removeFiles(this.opts.path);
  }

  #live(): Index {
    if (this.#closed) throw new Error('The vector index is closed');
    return this.#index;
  }

  #newIndex(): Index {
    const { connectivity, expansionAdd, expansionSearch } = this.opts;
    return new Index({
      dimensions: this.dimension,
      metric: MetricKind.Cos,
      quantization: ScalarKind.F32,
      connectivity,
      expansion_add: expansionAdd,
      expansion_search: expansionSearch,
      multi: false
    });
  }

  /** Loads the saved index into `#index` and returns its sidecar, or why it cannot be used. */
  async #loadSaved(latestSeq: number): Promise<Sidecar | string> {
    const { path, connectivity } = this.opts;
    const sidecar = await readSidecar(path);
    if (sidecar === undefined) return 'no saved index';
    if (sidecar === null) return 'index sidecar unreadable';
    if (sidecar.dimension !== this.dimension)
      return `dimension changed (${sidecar.dimension} → ${this.dimension})`;
    if (sidecar.connectivity !== connectivity)
      return `connectivity changed (${sidecar.connectivity} → ${connectivity})`;
    if (sidecar.seq > latestSeq)
      return `index is ahead of the catalog (seq ${sidecar.seq} > ${latestSeq})`;
    // usearch aborts the whole process (heap corruption in free()) on a truncated file instead of
    // throwing, so only a file whose size and CRC match what flush() wrote reaches index.load().
    // The file as flush() left it (same size and mtime) skips the CRC: at 100k vectors that is a
    // second read of 0.9 GB at every start.
    const info = await stat(path).catch(() => null);
    if (info === null) return 'index file missing';
    const untouched = info.size === sidecar.bytes && info.mtimeMs === sidecar.mtimeMs;
    if (!untouched) {
      const file = await checksum(path).catch(() => null);
      if (file === null) return 'index file missing';
      if (file.bytes !== sidecar.bytes || file.crc32 !== sidecar.crc32)
        return 'index file corrupt (checksum mismatch)';
    }
    try {
      this.#index.load(path);
    } catch (error) {
      return `index file unloadable: ${(error as Error).message}`;
    }
    if (this.#index.dimensions() !== this.dimension || this.#index.size() !== sidecar.count)
      return 'index file does not match its sidecar';
    return sidecar;
  }

  /** Applies every change after `afterSeq`; returns how many upserts and removals it applied. */
  async #catchUp(afterSeq: number): Promise<number> {
    const { source } = this.opts;
    let applied = 0;
    for (let seq = afterSeq; ;) {
      const page = await source.vectorsChangedSince(seq, PAGE);
      if (page.length === 0) break;
      await this.upsert(page);
      applied += page.length;
      const last = page[page.length - 1]!.seq;
      if (last <= seq) throw new Error(`Vector source returned seq ${last} after ${seq}`);
      seq = last;
    }
    const removed = await source.removedSince(afterSeq);
    if (removed.length === 0) return applied;
    // Per key, how many vectors it removed: 0 for ids already gone (or never indexed).
    const counts = this.#index.remove(BigUint64Array.from(removed, BigInt)) as number[];
    return counts.reduce((sum, n) => sum + n, applied);
  }

  /** Saves the index, then its sidecar, each through a temp file and rename (serialised). */
  #save(seq: number): Promise<void> {
    const run = async (): Promise<void> => {
      const { path, connectivity } = this.opts;
      await mkdir(dirname(path), { recursive: true });
      // Unique temp names: another process on the same data directory may be saving too.
      const unique = `${process.pid}.${Math.random().toString(36).slice(2)}`;
      const tmp = `${path}.${unique}.tmp`;
      this.#index.save(tmp);
      await fsync(tmp);
      const file = await checksum(tmp);
      await rename(tmp, path);
      const { mtimeMs } = await stat(path);
      // A crash between the renames leaves a new index with the old sidecar: open() sees the
      // checksum mismatch and rebuilds. Never the reverse (a sidecar claiming unsaved changes).
      const sidecar: Sidecar = {
        format: 1,
        dimension: this.dimension,
        seq,
        count: this.#index.size(),
        connectivity,
        ...file,
        mtimeMs
      };
      const sidecarTmp = `${path}.json.${unique}.tmp`;
      await writeFile(sidecarTmp, JSON.stringify(sidecar));
      await fsync(sidecarTmp);
      await rename(sidecarTmp, `${path}.json`);
    };
    const next = this.#flushing.catch(() => undefined).then(run);
    this.#flushing = next;
    return next;
  }
}

/** The sidecar, `undefined` when there is none, `null` when it is unusable. */
async function readSidecar(path: string): Promise<Sidecar | null | undefined> {
  let text: string;
  try {
    text = await readFile(`${path}.json`, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(text) as Partial<Sidecar> | null;
    const fields = [s?.dimension, s?.seq, s?.count, s?.connectivity, s?.bytes, s?.crc32];
    return s?.format === 1 && fields.every(Number.isSafeInteger) ? (s as Sidecar) : null;
  } catch {
    return null;
  }
}

async function checksum(path: string): Promise<{ bytes: number; crc32: number }> {
  let crc = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    crc = crc32(chunk as Buffer, crc);
  return { bytes: (await stat(path)).size, crc32: crc };
}

async function fsync(path: string): Promise<void> {
  const handle = await openFile(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
