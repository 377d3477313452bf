import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { CollectionMismatchError } from '../../server/errors';
import {
  CollectionNotFoundError,
  type Catalog,
  type CatalogStore
} from '../../server/stores/catalog';
import { DEFAULT_COLLECTION } from '../../server/stores/collection-names';
import { newImage } from './catalog.contract';

/** The named collections every CatalogStore (SQLite, MySQL) must keep apart. */
export function describeCollectionsContract(
  name: string,
  create: () => Promise<{ store: CatalogStore; cleanup: () => Promise<void> }>
) {
  describe(`CatalogStore collections contract: ${name}`, () => {
    let store: CatalogStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await create());
      return async () => cleanup();
    });

    it('has the default collection from the start', async () => {
      expect(await store.listCollections()).toEqual([
        expect.objectContaining({ name: DEFAULT_COLLECTION, images: 0 })
      ]);
      const summary = await store.getCollection(DEFAULT_COLLECTION);
      expect(summary).toMatchObject({ name: DEFAULT_COLLECTION, images: 0 });
      expect(summary!.model).toBeUndefined();
      expect(summary!.createdAt).toBeGreaterThan(0);
      expect(await (await store.catalog(DEFAULT_COLLECTION)).countImages()).toBe(0);
    });

    it('creates a collection once (idempotent), and lists them by name', async () => {
      const first = await store.createCollection('products');
      const again = await store.createCollection('products');
      expect(again).toEqual(first);
      expect(first).toMatchObject({ name: 'products', images: 0 });
      expect(first.id).not.toBe((await store.getCollection(DEFAULT_COLLECTION))!.id);
      // At once, too: one collection, one id.
      const racing = await Promise.all([1, 2, 3, 4].map(() => store.createCollection('b-2')));
      expect(new Set(racing.map((c) => c.id)).size).toBe(1);
      await store.createCollection('Z_1');
      expect((await store.listCollections()).map((c) => c.name)).toEqual([
        'Z_1',
        'b-2',
        DEFAULT_COLLECTION,
        'products'
      ]);
    });

    it('tells names apart that differ only by letter case', async () => {
      const upper = await store.createCollection('Photos');
      const lower = await store.createCollection('photos');
      expect(upper.id).not.toBe(lower.id);
      expect(await store.getCollection('PHOTOS')).toBeUndefined();
      await (await store.catalog('Photos')).addImages([newImage(1, '/p/a.jpg')]);
      expect((await store.getCollection('Photos'))!.images).toBe(1);
      expect((await store.getCollection('photos'))!.images).toBe(0);
      await expect(store.catalog('PHOTOS')).rejects.toBeInstanceOf(CollectionNotFoundError);
      expect(await store.deleteCollection('PHOTOS')).toBe(false);
      expect(await store.deleteCollection('photos')).toBe(true);
      expect((await store.getCollection('Photos'))!.images).toBe(1);
    });

    it('refuses names outside the allowed form, and finds no such collection', async () => {
      for (const bad of ['', '-x', 'a b', 'a/b', 'é', 'x'.repeat(65), 'default ']) {
        await expect(store.createCollection(bad)).rejects.toThrow(/collection name/);
        expect(await store.getCollection(bad)).toBeUndefined();
        expect(await store.deleteCollection(bad)).toBe(false);
        await expect(store.catalog(bad)).rejects.toBeInstanceOf(CollectionNotFoundError);
      }
      await expect(store.catalog('missing')).rejects.toMatchObject({
        code: 'collection_not_found',
        status: 404,
        message: expect.stringContaining('"missing"')
      });
      expect((await store.createCollection('x'.repeat(64))).name).toHaveLength(64);
    });

    it('keeps the same picture and the same path in two collections apart', async () => {
      await store.createCollection('a');
      await store.createCollection('b');
      const a = await store.catalog('a');
      const b = await store.catalog('b');
      const inA = await a.addImages([newImage(1, '/p/x.jpg'), newImage(2, '/p/only-a.jpg')]);
      const inB = await b.addImages([newImage(1, '/p/x.jpg')]);
      const [a1, a2] = inA.ids as [number, number];
      const [b1] = inB.ids as [number];
      expect(new Set([a1, a2, b1]).size).toBe(3);
      expect(inB.removedIds).toEqual([]);

      const hash = newImage(1, '').contentHash;
      expect((await a.findImageByHash(hash))!.id).toBe(a1);
      expect((await b.findImageByHash(hash))!.id).toBe(b1);
      expect((await a.getPath('/p/x.jpg'))!.imageId).toBe(a1);
      expect((await b.getPath('/p/x.jpg'))!.imageId).toBe(b1);
      expect(await b.getPath('/p/only-a.jpg')).toBeUndefined();
      expect([...(await b.getPaths(['/p/x.jpg', '/p/only-a.jpg'])).keys()]).toEqual(['/p/x.jpg']);
      // Ids are global, but one collection never answers for another's picture.
      expect([...(await a.getImages([a1, b1])).keys()]).toEqual([a1]);
      expect((await b.vectorsOf([a1, a2, b1])).map((v) => v.id)).toEqual([b1]);
      expect((await a.pathsUnder('/p')).map((p) => p.imageId).sort()).toEqual([a1, a2].sort());
      expect((await b.pathsUnder('/p')).map((p) => p.imageId)).toEqual([b1]);
      expect(await a.countImages()).toBe(2);
      expect(await b.countImages()).toBe(1);
      expect(await a.idsAfter(0, 10)).toEqual([a1, a2]);
      expect(await b.idsAfter(0, 10)).toEqual([b1]);
      expect((await b.imagesAfter(0, 10)).map((i) => [i.id, i.paths])).toEqual([
        [b1, ['/p/x.jpg']]
      ]);
      expect((await a.vectorsChangedSince(0, 10)).map((v) => v.id)).toEqual([a1, a2]);
      expect((await b.vectorsChangedSince(0, 10)).map((v) => v.id)).toEqual([b1]);
      // Each collection numbers its own changes.
      expect(await a.latestSeq()).toBe(2);
      expect(await b.latestSeq()).toBe(1);

      // Write-ahead state: marking through one collection leaves the other's picture pending.
      await a.markIndexed([a1, b1]);
      expect((await a.pendingImages(10)).map((p) => p.id)).toEqual([a2]);
      expect((await b.pendingImages(10)).map((p) => p.id)).toEqual([b1]);

      // Removing a path in one collection leaves the same path in the other alone.
      const revisionB = await b.contentRevision();
      expect(await a.removePaths(['/p/x.jpg'])).toEqual([a1]);
      expect(await a.removedSince(0)).toEqual([a1]);
      expect(await b.removedSince(0)).toEqual([]);
      expect((await b.getPath('/p/x.jpg'))!.imageId).toBe(b1);
      expect(await b.contentRevision()).toBe(revisionB);
      expect(await b.countImages()).toBe(1);
      expect(await b.removePaths(['/p/only-a.jpg'])).toEqual([]);
      expect(await a.countImages()).toBe(1);

      // A changed file in one collection drops only that collection's old picture.
      const changed = await b.addImages([newImage(3, '/p/x.jpg')]);
      expect(changed.removedIds).toEqual([b1]);
      expect(await a.removedSince(0)).toEqual([a1]);

      expect(await store.listCollections()).toEqual([
        expect.objectContaining({ name: 'a', images: 1 }),
        expect.objectContaining({ name: 'b', images: 1 }),
        expect.objectContaining({ name: DEFAULT_COLLECTION, images: 0 })
      ]);
    });

    it('clears one collection and leaves the others as they were', async () => {
      await store.createCollection('a');
      const a = await store.catalog('a');
      const home = await store.catalog(DEFAULT_COLLECTION);
      await a.addImages([newImage(1, '/p/x.jpg')], { modelId: 'tiny', dimension: 4 });
      const kept = await home.addImages([newImage(1, '/p/x.jpg'), newImage(2, '/p/y.jpg')], {
        modelId: 'other',
        dimension: 4
      });
      const revision = await home.contentRevision();
      const seq = await home.latestSeq();
      await a.clear();
      expect(await a.countImages()).toBe(0);
      expect(await a.collectionModel()).toBeUndefined();
      expect(await home.countImages()).toBe(2);
      expect(await home.collectionModel()).toEqual({ modelId: 'other', dimension: 4 });
      expect(await home.contentRevision()).toBe(revision);
      expect(await home.latestSeq()).toBe(seq);
      expect(await home.removedSince(0)).toEqual([]);
      expect((await home.getImages(kept.ids)).size).toBe(2);
    });

    it('records a model per collection', async () => {
      await store.createCollection('small');
      await store.createCollection('big');
      const small = await store.catalog('small');
      const big = await store.catalog('big');
      await small.claimCollection({ modelId: 'efficientnet-lite0', dimension: 1280 });
      await big.addImages([newImage(1, '/p/a.jpg', 2048)], {
        modelId: 'resnet50',
        dimension: 2048
      });
      expect(await small.collectionModel()).toEqual({
        modelId: 'efficientnet-lite0',
        dimension: 1280
      });
      expect(await big.collectionModel()).toEqual({ modelId: 'resnet50', dimension: 2048 });
      await expect(
        small.claimCollection({ modelId: 'resnet50', dimension: 2048 })
      ).rejects.toBeInstanceOf(CollectionMismatchError);
      expect((await store.getCollection('big'))!.model).toEqual({
        modelId: 'resnet50',
        dimension: 2048
      });
      expect((await store.getCollection(DEFAULT_COLLECTION))!.model).toBeUndefined();
      expect((await store.listCollections()).map((c) => c.model?.modelId)).toEqual([
        'resnet50',
        undefined,
        'efficientnet-lite0'
      ]);
    });

    it('deletes a collection with its content; a new one of that name starts empty', async () => {
      const created = await store.createCollection('gone');
      await store.createCollection('stays');
      const gone = await store.catalog('gone');
      const stays = await store.catalog('stays');
      await gone.addImages([newImage(1, '/p/a.jpg')], { modelId: 'tiny', dimension: 4 });
      await gone.removePaths(['/p/a.jpg']);
      await gone.addImages([newImage(2, '/p/b.jpg')]);
      await stays.addImages([newImage(2, '/p/b.jpg')], { modelId: 'tiny', dimension: 4 });

      expect(await store.deleteCollection('gone')).toBe(true);
      expect(await store.getCollection('gone')).toBeUndefined();
      expect(await store.deleteCollection('gone')).toBe(false);
      await expect(store.catalog('gone')).rejects.toBeInstanceOf(CollectionNotFoundError);
      // A catalog opened before: its writes are refused, its reads find nothing.
      await expect(gone.addImages([newImage(3, '/p/c.jpg')])).rejects.toBeInstanceOf(
        CollectionNotFoundError
      );
      await expect(gone.clear()).rejects.toBeInstanceOf(CollectionNotFoundError);
      expect(await gone.countImages()).toBe(0);
      expect(await gone.removedSince(0)).toEqual([]);
      expect(await gone.collectionModel()).toBeUndefined();

      expect(await stays.countImages()).toBe(1);
      expect(await stays.collectionModel()).toEqual({ modelId: 'tiny', dimension: 4 });

      const again = await store.createCollection('gone');
      expect(again.id).toBeGreaterThan(created.id);
      expect(again).toMatchObject({ images: 0 });
      expect(again.model).toBeUndefined();
      const fresh = await store.catalog('gone');
      expect(await fresh.latestSeq()).toBe(0);
      expect(await fresh.removedSince(0)).toEqual([]);
      expect(await fresh.contentRevision()).toBe('0');
    });

    it('empties the default collection instead of removing it', async () => {
      const home = await store.catalog(DEFAULT_COLLECTION);
      const { ids } = await home.addImages([newImage(1, '/p/a.jpg')], {
        modelId: 'tiny',
        dimension: 4
      });
      const before = await store.getCollection(DEFAULT_COLLECTION);
      const seq = await home.latestSeq();
      expect(await store.deleteCollection(DEFAULT_COLLECTION)).toBe(true);
      const after = await store.getCollection(DEFAULT_COLLECTION);
      expect(after).toMatchObject({ id: before!.id, images: 0 });
      expect(after!.model).toBeUndefined();
      // As clear(): the removal is logged, so an index snapshot of it catches up.
      expect(await home.removedSince(seq)).toEqual(ids);
      expect(await home.countImages()).toBe(0);
      await home.claimCollection({ modelId: 'other', dimension: 8 });
    });

    it("closes a collection's catalog without closing the database", async () => {
      await store.createCollection('a');
      const a = await store.catalog('a');
      await a.addImages([newImage(1, '/p/a.jpg')]);
      await a.close();
      expect((await store.getCollection('a'))!.images).toBe(1);
      expect(await (await store.catalog('a')).countImages()).toBe(1);
    });

    it('numbers concurrent writes in several collections densely, each on its own', async () => {
      const names = ['c1', 'c2', 'c3'];
      for (const n of names) await store.createCollection(n);
      const catalogs = await Promise.all(names.map((n) => store.catalog(n)));
      await Promise.all(
        catalogs.flatMap((catalog, c) =>
          Array.from({ length: 8 }, (_, i) =>
            catalog.addImages([newImage(i, `/p/${i}.jpg`)], { modelId: `m${c}`, dimension: 4 })
          )
        )
      );
      for (const catalog of catalogs) {
        expect(await catalog.latestSeq()).toBe(8);
        const seqs = (await catalog.vectorsChangedSince(0, 100)).map((v) => v.seq);
        expect([...seqs].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      }
      const ids = (await Promise.all(catalogs.map((c) => c.idsAfter(0, 100)))).flat();
      expect(new Set(ids).size).toBe(24);

      // Removals, links, adds and a clear in different collections at once: none waits on or
      // deadlocks with another collection's writes, and none sees another's rows.
      const [c1, c2, c3] = catalogs as [Catalog, Catalog, Catalog];
      // A picture of c1 whose path stays (the adds ran in any order, so ids say nothing).
      const kept = (await c1.getPath('/p/7.jpg'))!.imageId;
      await Promise.all([
        ...Array.from({ length: 4 }, (_, i) => c1.removePaths([`/p/${i}.jpg`])),
        ...Array.from({ length: 4 }, (_, i) =>
          c2.addImages([newImage(100 + i, `/p/${i}.jpg`)], { modelId: 'm1', dimension: 4 })
        ),
        c3.clear(),
        ...Array.from({ length: 4 }, (_, i) =>
          c1.linkPaths([{ path: `/q/${i}.jpg`, imageId: kept, size: 1, mtimeMs: 1 }])
        )
      ]);
      expect(await c1.countImages()).toBe(4);
      expect(await c1.latestSeq()).toBe(12);
      expect(await c2.countImages()).toBe(8);
      expect((await c2.removedSince(0)).length).toBe(4);
      expect(await c2.latestSeq()).toBe(16);
      expect(await c3.countImages()).toBe(0);
      expect((await c3.removedSince(0)).length).toBe(8);
      expect((await c1.pathsUnder('/q')).length).toBe(4);
    });
  });
}

/**
 * Copies a dialect's committed migrations into `dir` with only the first `count` in the journal:
 * what running an older release's migrations did, to build a database as that release left it.
 */
export async function migrationsBefore(
  source: string,
  dir: string,
  count: number
): Promise<string> {
  await cp(source, dir, { recursive: true });
  const journalFile = join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(await readFile(journalFile, 'utf8')) as { entries: unknown[] };
  journal.entries = journal.entries.slice(0, count);
  await writeFile(journalFile, JSON.stringify(journal));
  return dir;
}

/**
 * What a database from the release before named collections holds in the upgrade test, the same
 * on every dialect: two pictures (one `pending`) with three paths, one removal, the collection's
 * model and counters in the key-value `collection` table.
 */
export const BEFORE_COLLECTIONS = {
  settings: [
    ['model_id', 'tiny'],
    ['dimension', '4'],
    ['seq', '3'],
    ['revision', '7'],
    ['revision_epoch', 'e-old']
  ],
  /** Every image is 10×20, 30 bytes, dhash '00', vector [1, 0, 0, 0]. */
  images: [
    { id: 5, contentHash: newImage(1, '').contentHash, format: 'jpeg', state: 'indexed', seq: 1 },
    { id: 6, contentHash: newImage(2, '').contentHash, format: 'png', state: 'pending', seq: 2 }
  ],
  vector: Buffer.from(new Float32Array([1, 0, 0, 0]).buffer),
  /** Path, image id, mtime; every size is 30. */
  paths: [
    ['/p/a.jpg', 5, 1.5],
    ['/p/A.jpg', 6, 2.5],
    ['/p/b.jpg', 6, 3]
  ],
  /** seq, image id */
  removed: [[3, 4]]
} as const;

/** A dialect's side of the upgrade test. */
export interface OldDatabase {
  /** Builds the database as the release before named collections left it, holding `content`. */
  build(content: typeof BEFORE_COLLECTIONS): Promise<void>;
  /** Opens it with this release's store (which migrates it). */
  openStore(): Promise<CatalogStore>;
  /** The default collection's catalog, opened the way the release before did. */
  openCatalog(): Promise<Catalog>;
  cleanup(): Promise<void>;
}

/**
 * Upgrading in place: a database from before named collections becomes the `default`
 * collection with everything it held, and writes go on from where it was. Each dialect gives only
 * how to build its old schema.
 */
export function describeUpgradeFromBeforeCollections(
  name: string,
  create: () => Promise<OldDatabase>
) {
  it(`${name}: moves a database from before named collections into the default collection`, async () => {
    const old = await create();
    try {
      await old.build(BEFORE_COLLECTIONS);
      const store = await old.openStore();
      try {
        expect(await store.listCollections()).toEqual([
          expect.objectContaining({
            id: 1,
            name: DEFAULT_COLLECTION,
            images: 2,
            model: { modelId: 'tiny', dimension: 4 }
          })
        ]);
        const home = await store.catalog(DEFAULT_COLLECTION);
        expect(await home.collectionModel()).toEqual({ modelId: 'tiny', dimension: 4 });
        expect(await home.contentRevision()).toBe('e-old.7');
        expect(await home.latestSeq()).toBe(3);
        expect(await home.removedSince(0)).toEqual([4]);
        expect(await home.getPath('/p/a.jpg')).toEqual({
          path: '/p/a.jpg',
          imageId: 5,
          size: 30,
          mtimeMs: 1.5
        });
        expect((await home.getImages([6])).get(6)).toMatchObject({
          state: 'pending',
          paths: ['/p/A.jpg', '/p/b.jpg']
        });
        expect((await home.pathsUnder('/p')).length).toBe(3);
        // Writes go on from where the old database was, with new ids after the old ones.
        const added = await home.addImages([newImage(3, '/p/c.jpg')]);
        expect(added.ids[0]).toBeGreaterThan(6);
        expect(await home.latestSeq()).toBe(4);
        expect(await home.contentRevision()).toBe('e-old.8');
        // The same picture may now be in another collection too.
        await store.createCollection('other');
        const other = await store.catalog('other');
        const copy = await other.addImages([newImage(1, '/p/a.jpg')]);
        expect(copy.ids[0]).toBeGreaterThan(added.ids[0]!);
        expect((await home.findImageByHash(newImage(1, '').contentHash))!.id).toBe(5);
        expect((await other.getPath('/p/a.jpg'))!.imageId).toBe(copy.ids[0]);
      } finally {
        await store.close();
      }
      // The default collection's catalog opened the old way sees the same.
      const again = await old.openCatalog();
      try {
        expect(await again.countImages()).toBe(3);
      } finally {
        await again.close();
      }
    } finally {
      await old.cleanup();
    }
  });
}
