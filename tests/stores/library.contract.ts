import { beforeEach, describe, expect, it } from 'vitest';
import { CollectionNotFoundError, type CatalogStore } from '../../server/stores/catalog';
import { DEFAULT_COLLECTION } from '../../server/stores/collection-names';
import { newImage } from './catalog.contract';

/** A job row as an older release stored it (the fields the Library migration reads). */
export interface OldJob {
  jobId: string;
  path: string;
  recursive: boolean;
  /** Absent in records from before named collections: the default collection's. */
  collection?: string;
  createdAt: number;
}

/**
 * The Library folders every CatalogStore (SQLite, MySQL) must keep: per collection, by exact path
 * bytes, with the watch flag, forgotten with the collection's content; and the migration that
 * turns the folders of recorded jobs into Library folders.
 */
export function describeLibraryContract(
  name: string,
  create: () => Promise<{ store: CatalogStore; cleanup: () => Promise<void> }>,
  /** A database migrated to the release before the Library, holding `jobs`, then opened. */
  upgrade: (
    jobs: readonly OldJob[]
  ) => Promise<{ store: CatalogStore; cleanup: () => Promise<void> }>
) {
  describe(`CatalogStore Library contract: ${name}`, () => {
    let store: CatalogStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await create());
      return async () => cleanup();
    });

    it('records folders once, in path byte order, keeping the watch flag', async () => {
      const catalog = await store.catalog(DEFAULT_COLLECTION);
      expect(await catalog.folders()).toEqual([]);
      await catalog.recordFolder('/R/b', true);
      await catalog.recordFolder('/R/B', false);
      await catalog.recordFolder('/R/a', true);
      expect(await catalog.setFolderWatched('/R/a', true)).toMatchObject({
        path: '/R/a',
        watched: true
      });
      // Recorded again (a second index run, now not recursive): still one folder, still watched.
      await catalog.recordFolder('/R/a', false);
      const folders = await catalog.folders();
      expect(folders.map((f) => [f.path, f.recursive, f.watched])).toEqual([
        ['/R/B', false, false],
        ['/R/a', false, true],
        ['/R/b', true, false]
      ]);
      expect(folders.every((f) => f.addedAt > 0)).toBe(true);
      expect(await catalog.setFolderWatched('/R/nope', true)).toBeUndefined();
      expect(await catalog.setFolderWatched('/R/A', true)).toBeUndefined();
    });

    it('keeps paths exact: letter case, trailing spaces, 4-byte UTF-8, 4096 bytes', async () => {
      const catalog = await store.catalog(DEFAULT_COLLECTION);
      const long = `/R/${'d'.repeat(4090)}`;
      const odd = ['/R/x ', '/R/x', '/R/X', '/R/😀', long];
      for (const path of odd) await catalog.recordFolder(path, true);
      for (const path of odd) await catalog.setFolderWatched(path, true);
      expect((await catalog.folders()).map((f) => f.path).sort()).toEqual([...odd].sort());
      await catalog.forgetFolder('/R/x');
      expect((await catalog.folders()).map((f) => f.path)).not.toContain('/R/x');
      expect((await catalog.folders()).length).toBe(4);
    });

    it('keeps collections apart, and lists every watched folder by collection', async () => {
      await store.createCollection('products');
      const home = await store.catalog(DEFAULT_COLLECTION);
      const products = await store.catalog('products');
      await home.recordFolder('/R/shared', true);
      await products.recordFolder('/R/shared', true);
      await products.recordFolder('/R/other', true);
      await products.setFolderWatched('/R/shared', true);
      await products.setFolderWatched('/R/other', true);
      expect((await home.folders())[0]!.watched).toBe(false);
      expect(
        (await store.watchedFolders()).map((f) => [f.collection, f.path, f.recursive])
      ).toEqual([
        ['products', '/R/other', true],
        ['products', '/R/shared', true]
      ]);
      await home.setFolderWatched('/R/shared', true);
      expect((await store.watchedFolders()).map((f) => f.collection)).toEqual([
        DEFAULT_COLLECTION,
        'products',
        'products'
      ]);
    });

    it('counts the paths under a folder as pathsUnder lists them', async () => {
      const catalog = await store.catalog(DEFAULT_COLLECTION);
      await catalog.addImages([
        newImage(1, '/R/p/a.jpg'),
        newImage(2, '/R/p/sub/b.jpg'),
        newImage(3, '/R/p-2/c.jpg'),
        newImage(4, '/R/P/d.jpg'),
        newImage(5, '/R/p')
      ]);
      await catalog.linkPaths([
        {
          path: '/R/p/copy.jpg',
          imageId: (await catalog.getPath('/R/p/a.jpg'))!.imageId,
          size: 1,
          mtimeMs: 1
        }
      ]);
      expect(await catalog.countPathsUnder('/R/p')).toBe((await catalog.pathsUnder('/R/p')).length);
      expect(await catalog.countPathsUnder('/R/p')).toBe(4);
      expect(await catalog.countPathsUnder('/R/p/sub')).toBe(1);
      expect(await catalog.countPathsUnder('/R/none')).toBe(0);
    });

    it('forgets the folders with a clear and with the collection', async () => {
      await store.createCollection('gone');
      const gone = await store.catalog('gone');
      await gone.recordFolder('/R/g', true);
      await gone.setFolderWatched('/R/g', true);
      const home = await store.catalog(DEFAULT_COLLECTION);
      await home.recordFolder('/R/h', true);
      await home.setFolderWatched('/R/h', true);
      await home.clear();
      expect(await home.folders()).toEqual([]);
      expect(await store.deleteCollection('gone')).toBe(true);
      expect(await store.watchedFolders()).toEqual([]);
      await expect(gone.recordFolder('/R/g', true)).rejects.toBeInstanceOf(CollectionNotFoundError);
      await store.createCollection('gone');
      expect(await (await store.catalog('gone')).folders()).toEqual([]);
    });

    // What an open collection of a server re-checks every few seconds (with the Library's
    // watched folders, the catalog questions a long-running server keeps asking).
    it('tells a collection id by name, without counting: a new collection of a name, a new id', async () => {
      const first = await store.createCollection('kept');
      await (await store.catalog('kept')).addImages([newImage(1, '/R/k/1.jpg')]);
      expect(await store.collectionId('kept')).toBe(first.id);
      expect(await store.collectionId(DEFAULT_COLLECTION)).toBe(
        (await store.getCollection(DEFAULT_COLLECTION))!.id
      );
      expect(await store.collectionId('missing')).toBeUndefined();
      expect(await store.collectionId('not a name!')).toBeUndefined();
      expect(await store.deleteCollection('kept')).toBe(true);
      expect(await store.collectionId('kept')).toBeUndefined();
      const second = await store.createCollection('kept');
      expect(await store.collectionId('kept')).toBe(second.id);
      expect(second.id).not.toBe(first.id);
    });
  });

  it(`${name}: an upgrade makes the folders of recorded jobs Library folders`, async () => {
    const upgraded = await upgrade([
      { jobId: 'j1', path: '/R/old', recursive: true, createdAt: 1000 },
      { jobId: 'j2', path: '/R/old', recursive: true, createdAt: 2000 },
      {
        jobId: 'j3',
        path: '/R/flat',
        recursive: false,
        collection: DEFAULT_COLLECTION,
        createdAt: 3000
      },
      { jobId: 'j4', path: '/R/😀 named', recursive: true, collection: 'named', createdAt: 4000 },
      { jobId: 'j5', path: '/R/x', recursive: true, collection: 'deleted-since', createdAt: 5000 }
    ]);
    try {
      const home = await upgraded.store.catalog(DEFAULT_COLLECTION);
      expect(
        (await home.folders()).map((f) => [f.path, f.recursive, f.watched, f.addedAt])
      ).toEqual([
        ['/R/flat', false, false, 3000],
        ['/R/old', true, false, 1000]
      ]);
      const named = await upgraded.store.catalog('named');
      expect((await named.folders()).map((f) => f.path)).toEqual(['/R/😀 named']);
      // The MySQL key is the path's hash: the migration's hash must be the one the code computes.
      expect(await named.setFolderWatched('/R/😀 named', true)).toBeDefined();
      await named.recordFolder('/R/😀 named', false);
      expect((await named.folders()).map((f) => [f.recursive, f.watched])).toEqual([[false, true]]);
    } finally {
      await upgraded.cleanup();
    }
  });
}
