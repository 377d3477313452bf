import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ImageDecoder } from '../../server/embedding/image-decoder';
import type { Runtime } from '../../server/runtime';
import { Collection } from '../../server/services/collection';
import { indexFolder } from '../../server/services/indexer';
import { Ingest } from '../../server/services/ingest';
import { Uploads } from '../../server/services/uploads';
import type { Catalog } from '../../server/stores/catalog';
import { SqliteCatalog } from '../../server/stores/sqlite/sqlite-catalog';
import type { VectorIndex } from '../../server/stores/vector-index';
import { scene } from '../helpers/images';
import { testRuntime } from '../helpers/runtime';

/** The catalog, counting every call by method name. */
function countingCatalog(inner: Catalog) {
  const calls: Record<string, number> = {};
  const catalog = new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    }
  });
  return { catalog, calls };
}

/** A brute-force in-memory vector index: enough to check what the collection writes. */
function memoryIndex(dimension: number): VectorIndex {
  const vectors = new Map<number, Float32Array>();
  return {
    kind: 'memory',
    dimension,
    upsert: async (entries) => void entries.forEach((e) => vectors.set(e.id, e.vector)),
    remove: async (ids) => void ids.forEach((id) => vectors.delete(id)),
    search: async (query, k) =>
      [...vectors]
        .map(([id, v]) => ({ id, score: v.reduce((s, x, i) => s + x * query[i]!, 0) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, k),
    count: async () => vectors.size,
    clear: async () => vectors.clear(),
    flush: async () => undefined,
    close: async () => undefined
  };
}

/** The runtime's decoder, counting reads and decodes per call. */
function countingDecoder(inner: ImageDecoder) {
  const counts = { reads: 0, decodes: 0 };
  const decoder: ImageDecoder = {
    read: (file) => (counts.reads++, inner.read(file)),
    decode: (input, manifest) => (counts.decodes++, inner.decode(input, manifest))
  };
  return { decoder, counts };
}

describe('Ingest: the one way pictures enter a collection', () => {
  let base: string;
  let photos: string;
  let runtime: Runtime;
  let cleanup: () => Promise<void>;
  let sqlite: SqliteCatalog;
  let calls: Record<string, number>;
  let collection: Collection;
  /** Pixel batches handed to the model, by size. */
  let modelCalls: number[];
  let embedder: Pick<Runtime['embedder'], 'embedPixels' | 'manifest'>;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'lookalike-ingest-'));
    photos = join(base, 'photos');
    await mkdir(photos);
    ({ runtime, cleanup } = await testRuntime({ roots: [base] }));
    sqlite = await SqliteCatalog.open(join(base, 'catalog.db'));
    const counting = countingCatalog(sqlite);
    calls = counting.calls;
    const { manifest } = runtime.embedder;
    collection = new Collection(counting.catalog, memoryIndex(manifest.dimension), manifest);
    modelCalls = [];
    embedder = {
      manifest,
      embedPixels: (pixels) => (
        modelCalls.push(pixels.length),
        runtime.embedder.embedPixels(pixels)
      )
    };
  });
  afterEach(async () => {
    await sqlite.close();
    await cleanup();
    await rm(base, { recursive: true, force: true });
  });

  const index = (decoder: ImageDecoder, batchSize: number) =>
    indexFolder({
      root: photos,
      recursive: true,
      roots: runtime.roots,
      collection,
      decoder,
      embedder,
      batchSize
    });
  const reset = () => {
    for (const key of Object.keys(calls)) delete calls[key];
    modelCalls.length = 0;
  };

  it('asks the catalog once per batch, never once per file', async () => {
    for (let i = 0; i < 10; i++)
      await writeFile(join(photos, `p${i}.jpg`), await scene(96, 72, i + 1));
    await copyFile(join(photos, 'p0.jpg'), join(photos, 'copy of p0.jpg'));
    await copyFile(join(photos, 'p5.jpg'), join(photos, 'copy of p5.jpg'));
    const batches = 3; // 12 files, 5 a batch
    await index(runtime.decoder, 5);
    expect(await collection.count()).toBe(10);
    expect(calls.getPath ?? 0).toBe(0);
    expect(calls.findImageByHash ?? 0).toBe(0);
    expect(calls.getPaths).toBe(batches);
    // Examine, the check before embedding, the check under the write lock: three per batch at most.
    expect(calls.findImagesByHashes).toBeGreaterThanOrEqual(batches);
    expect(calls.findImagesByHashes).toBeLessThanOrEqual(3 * batches);
    // One transaction of new pictures per batch (plus the model's claim).
    expect(calls.addImages).toBe(batches);

    // Nothing changed: the path look-up per batch, and nothing else.
    reset();
    await index(runtime.decoder, 5);
    expect(calls.getPaths).toBe(batches);
    expect(calls.findImagesByHashes ?? 0).toBe(0);
    expect(calls.addImages ?? 0).toBe(0);
    expect(modelCalls).toEqual([]);
  });

  it('reads each file once, decodes each new content once, and never known content', async () => {
    for (let i = 0; i < 4; i++)
      await writeFile(join(photos, `p${i}.jpg`), await scene(96, 72, i + 1));
    await copyFile(join(photos, 'p1.jpg'), join(photos, 'same as p1.jpg'));
    const first = countingDecoder(runtime.decoder);
    await index(first.decoder, 8);
    expect(first.counts).toEqual({ reads: 5, decodes: 4 });
    // Same content in one batch: embedded once, in one model call, and both files kept.
    expect(modelCalls).toEqual([4]);
    const [a, b] = await Promise.all(
      ['p1.jpg', 'same as p1.jpg'].map((name) => collection.getPath(join(photos, name)))
    );
    expect(a!.imageId).toBe(b!.imageId);

    // Touched (new mtime, same bytes): read again to hash, but known content is not decoded.
    const later = new Date(Date.now() + 60_000);
    for (const name of ['p0.jpg', 'p1.jpg', 'p2.jpg', 'p3.jpg', 'same as p1.jpg'])
      await utimes(join(photos, name), later, later);
    reset();
    const second = countingDecoder(runtime.decoder);
    await index(second.decoder, 8);
    expect(second.counts).toEqual({ reads: 5, decodes: 0 });
    expect(modelCalls).toEqual([]);
    expect(calls.addImages ?? 0).toBe(0);
    expect(await collection.count()).toBe(4);
  });

  it('links an upload and an index job adding the same content at once to one picture', async () => {
    const bytes = await scene(96, 72, 42);
    await writeFile(join(photos, 'shared.jpg'), bytes);
    // Both writers reach the collection's write before either runs it: each examined the
    // content as new and found it new again just before writing.
    let arrived = 0;
    let release!: () => void;
    const together = new Promise<void>((resolve) => (release = resolve));
    const real = collection;
    const racing = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== 'addByContent') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<Collection['addByContent']>) => {
          if (++arrived === 2) release();
          await Promise.race([together, new Promise((r) => setTimeout(r, 5000))]);
          return real.addByContent(...args);
        };
      }
    });
    collection = racing;
    const uploads = new Uploads({
      dir: join(base, 'uploads'),
      collection,
      decoder: runtime.decoder,
      embedder
    });
    const [upload, completed] = await Promise.all([uploads.add(bytes), index(runtime.decoder, 4)]);
    expect(arrived).toBe(2);
    expect(completed).toBe(true);
    expect(await collection.count()).toBe(1);
    const indexed = await collection.getPath(join(photos, 'shared.jpg'));
    expect(indexed!.imageId).toBe(upload.id);
    expect((await collection.getImage(upload.id))!.paths.sort()).toEqual(
      [join(photos, 'shared.jpg'), upload.path].sort()
    );
    expect(await collection.indexedCount()).toBe(1);
  });

  it('adds content that arrives embedded (a migration) by content, once', async () => {
    const ingest = new Ingest({ collection });
    const vector = new Float32Array(runtime.embedder.manifest.dimension).fill(0);
    vector[0] = 1;
    const content = {
      kind: 'embedded' as const,
      contentHash: 'a'.repeat(64),
      bytes: 10,
      width: 4,
      height: 3,
      format: 'jpeg',
      dhash: '0'.repeat(16),
      vector
    };
    const file = (path: string) => ({ path, size: 10, mtimeMs: 1 });
    const outcomes = await ingest.add([
      { file: file('/x/one.jpg'), content },
      { file: file('/x/two.jpg'), content }
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual(['added', 'linked']);
    const id = (outcomes[0] as { imageId: number }).imageId;
    expect(outcomes[1]).toEqual({ kind: 'linked', imageId: id });
    const again = await ingest.add([{ file: file('/x/one.jpg'), content, previousImageId: id }]);
    expect(again).toEqual([{ kind: 'unchanged', imageId: id }]);
    expect(await collection.count()).toBe(1);
    expect((await collection.getImage(id))!.paths.sort()).toEqual(['/x/one.jpg', '/x/two.jpg']);
  });
});
