import { beforeEach, describe, expect, it } from 'vitest';
import { CollectionMismatchError } from '../../server/errors';
import type { Catalog, NewImage } from '../../server/stores/catalog';

/** A new image with a distinctive vector; `n` makes hash, size and vector unique. */
export function newImage(n: number, path: string, dimension = 4): NewImage {
  const vector = new Float32Array(dimension);
  vector[n % dimension] = 1;
  vector[(n + 1) % dimension] = n / 100;
  return {
    contentHash: n.toString(16).padStart(64, '0'),
    width: 100 + n,
    height: 50 + n,
    bytes: 1000 + n,
    format: 'jpeg',
    dhash: n.toString(16).padStart(16, '0'),
    vector,
    file: { path, size: 1000 + n, mtimeMs: 1_700_000_000_000 + n }
  };
}

/** The behaviour every Catalog (SQLite, MySQL) must share. */
export function describeCatalogContract(
  name: string,
  create: () => Promise<{ catalog: Catalog; cleanup: () => Promise<void> }>
) {
  describe(`Catalog contract: ${name}`, () => {
    let catalog: Catalog;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ catalog, cleanup } = await create());
      return async () => cleanup();
    });

    it('records the model that built the collection and refuses another', async () => {
      expect(await catalog.collectionModel()).toBeUndefined();
      await catalog.claimCollection({ modelId: 'tiny', dimension: 128 });
      await catalog.claimCollection({ modelId: 'tiny', dimension: 128 });
      expect(await catalog.collectionModel()).toEqual({ modelId: 'tiny', dimension: 128 });
      await expect(
        catalog.claimCollection({ modelId: 'resnet50', dimension: 2048 })
      ).rejects.toBeInstanceOf(CollectionMismatchError);
      await expect(catalog.claimCollection({ modelId: 'tiny', dimension: 64 })).rejects.toThrow(
        /tiny/
      );
    });

    it('claims the model in the same transaction as the images: a refused claim writes nothing', async () => {
      await catalog.addImages([newImage(1, '/p/a.jpg')], { modelId: 'tiny', dimension: 4 });
      expect(await catalog.collectionModel()).toEqual({ modelId: 'tiny', dimension: 4 });
      const before = await catalog.contentRevision();
      await expect(
        catalog.addImages([newImage(2, '/p/b.jpg')], { modelId: 'other', dimension: 4 })
      ).rejects.toBeInstanceOf(CollectionMismatchError);
      expect(await catalog.countImages()).toBe(1);
      expect(await catalog.getPath('/p/b.jpg')).toBeUndefined();
      expect(await catalog.contentRevision()).toBe(before);
      expect(await catalog.collectionModel()).toEqual({ modelId: 'tiny', dimension: 4 });
    });

    it('stores images with their vectors, paths and write-ahead state', async () => {
      const { ids, removedIds } = await catalog.addImages([
        newImage(1, '/p/a.jpg'),
        newImage(2, '/p/b.jpg')
      ]);
      expect(ids).toHaveLength(2);
      expect(removedIds).toEqual([]);
      expect(await catalog.countImages()).toBe(2);
      const pending = await catalog.pendingImages(10);
      expect(pending.map((p) => p.id).sort()).toEqual([...ids].sort());
      expect(Array.from(pending.find((p) => p.id === ids[0])!.vector)).toEqual(
        Array.from(newImage(1, '').vector)
      );
      await catalog.markIndexed(ids);
      expect(await catalog.pendingImages(10)).toEqual([]);
      const images = await catalog.getImages(ids);
      expect(images.get(ids[1]!)).toMatchObject({
        width: 102,
        height: 52,
        state: 'indexed',
        paths: ['/p/b.jpg']
      });
      expect(await catalog.getPath('/p/a.jpg')).toEqual({
        path: '/p/a.jpg',
        imageId: ids[0],
        size: 1001,
        mtimeMs: 1_700_000_000_001
      });
      expect((await catalog.findImageByHash(newImage(2, '').contentHash))?.id).toBe(ids[1]);
    });

    it('reads many paths and hashes at once, exactly, in chunks', async () => {
      const { ids } = await catalog.addImages([newImage(1, '/p/a.jpg'), newImage(2, '/p/B.jpg')]);
      const paths = await catalog.getPaths(['/p/a.jpg', '/p/A.jpg', '/p/a.jpg ', '/p/B.jpg', '/x']);
      expect([...paths.keys()].sort()).toEqual(['/p/B.jpg', '/p/a.jpg']);
      expect(paths.get('/p/a.jpg')).toEqual({
        path: '/p/a.jpg',
        imageId: ids[0],
        size: 1001,
        mtimeMs: 1_700_000_000_001
      });
      expect(await catalog.getPaths([])).toEqual(new Map());
      const hash = (n: number) => newImage(n, '').contentHash;
      const images = await catalog.findImagesByHashes([hash(2), hash(3), hash(1)]);
      expect([...images.keys()].sort()).toEqual([hash(1), hash(2)]);
      expect(images.get(hash(2))).toMatchObject({ id: ids[1], width: 102, state: 'pending' });
      // Hashes are hex in lower case; another case is another (unknown) hash.
      await catalog.addImages([newImage(0xabc, '/p/hex.jpg')]);
      expect((await catalog.findImagesByHashes([hash(0xabc)])).size).toBe(1);
      expect(await catalog.findImagesByHashes([hash(0xabc).toUpperCase()])).toEqual(new Map());
      expect(await catalog.findImageByHash(hash(0xabc).toUpperCase())).toBeUndefined();
      expect(await catalog.findImagesByHashes([])).toEqual(new Map());

      // More than any chunk size: every one found, none twice.
      const many = Array.from({ length: 5000 }, (_, i) => newImage(10_000 + i, `/m/${i}.jpg`));
      await catalog.addImages(many);
      const lookups = [...many.map((m) => m.file.path), '/m/none.jpg'];
      expect((await catalog.getPaths(lookups)).size).toBe(5000);
      const byHash = await catalog.findImagesByHashes(many.map((m) => m.contentHash));
      expect(byHash.size).toBe(5000);
      expect(byHash.get(many[4999]!.contentHash)!.width).toBe(many[4999]!.width);
    });

    it('links more paths to one image and deletes an image only when its last path goes', async () => {
      const { ids } = await catalog.addImages([newImage(1, '/p/a.jpg')]);
      const id = ids[0]!;
      expect(
        await catalog.linkPaths([{ path: '/p/copy.jpg', imageId: id, size: 1, mtimeMs: 2 }])
      ).toEqual([]);
      expect((await catalog.getImages([id])).get(id)!.paths).toEqual(['/p/a.jpg', '/p/copy.jpg']);
      expect(await catalog.removePaths(['/p/a.jpg'])).toEqual([]);
      expect(await catalog.countImages()).toBe(1);
      expect(await catalog.removePaths(['/p/copy.jpg', '/p/never.jpg'])).toEqual([id]);
      expect(await catalog.countImages()).toBe(0);
      expect(await catalog.removedSince(0)).toEqual([id]);
    });

    it('drops the old picture when a changed file gets new content', async () => {
      const { ids } = await catalog.addImages([newImage(1, '/p/a.jpg')]);
      const changed = await catalog.addImages([newImage(2, '/p/a.jpg')]);
      expect(changed.removedIds).toEqual(ids);
      expect(await catalog.countImages()).toBe(1);
      expect((await catalog.getPath('/p/a.jpg'))!.imageId).toBe(changed.ids[0]);
    });

    it('numbers every change so an index can catch up, and never reuses an id', async () => {
      expect(await catalog.latestSeq()).toBe(0);
      const { ids } = await catalog.addImages([newImage(1, '/p/a.jpg'), newImage(2, '/p/b.jpg')]);
      const afterAdd = await catalog.latestSeq();
      expect(afterAdd).toBeGreaterThanOrEqual(2);
      expect((await catalog.vectorsChangedSince(0, 10)).map((v) => v.id)).toEqual(ids);
      expect((await catalog.vectorsChangedSince(0, 1)).map((v) => v.id)).toEqual([ids[0]]);
      expect(await catalog.vectorsChangedSince(afterAdd, 10)).toEqual([]);
      await catalog.removePaths(['/p/a.jpg']);
      expect(await catalog.removedSince(afterAdd)).toEqual([ids[0]]);
      const again = await catalog.addImages([newImage(1, '/p/a.jpg')]);
      expect(again.ids[0]).toBeGreaterThan(Math.max(...ids));
      expect((await catalog.vectorsChangedSince(afterAdd, 10)).map((v) => v.id)).toEqual(again.ids);
    });

    it('moves the content revision on every content change, and only then', async () => {
      const seen = new Set<string>();
      /** The revision now; `changed` says whether it must differ from every earlier one. */
      const step = async (changed: boolean) => {
        const revision = await catalog.contentRevision();
        if (changed) expect(seen.has(revision)).toBe(false);
        else expect(seen.has(revision)).toBe(true);
        seen.add(revision);
        return revision;
      };
      await step(true);
      const { ids } = await catalog.addImages([newImage(1, '/p/a.jpg'), newImage(2, '/p/b.jpg')]);
      const afterAdd = await step(true);
      // Reads, the write-ahead flag and a second claim are not content.
      await catalog.markIndexed(ids);
      await catalog.imagesAfter(0, 10);
      await catalog.claimCollection({ modelId: 'tiny', dimension: 4 });
      expect(await step(false)).toBe(afterAdd);
      // A copy, then its original forgotten: no image added or removed, so no seq, but new paths.
      const seq = await catalog.latestSeq();
      await catalog.linkPaths([{ path: '/p/copy.jpg', imageId: ids[0]!, size: 1, mtimeMs: 2 }]);
      await step(true);
      // A touched file (new mtime, same picture): nothing a snapshot lists changed.
      await catalog.linkPaths([{ path: '/p/copy.jpg', imageId: ids[0]!, size: 1, mtimeMs: 3 }]);
      await step(false);
      // The same path now showing the other picture does change it.
      await catalog.linkPaths([{ path: '/p/b2.jpg', imageId: ids[1]!, size: 1, mtimeMs: 2 }]);
      await step(true);
      await catalog.linkPaths([{ path: '/p/b2.jpg', imageId: ids[0]!, size: 1, mtimeMs: 2 }]);
      await step(true);
      await catalog.removePaths(['/p/b2.jpg']);
      await step(true);
      await catalog.removePaths(['/p/a.jpg']);
      expect(await catalog.latestSeq()).toBe(seq);
      await step(true);
      await catalog.removePaths(['/p/never-indexed.jpg']);
      await step(false);
      await catalog.removePaths(['/p/copy.jpg']);
      await step(true);
      await catalog.clear();
      await step(true);
    });

    it('lists paths under a folder literally (no wildcard or sibling-prefix surprises)', async () => {
      await catalog.addImages([
        newImage(1, '/p/100%_done/a.jpg'),
        newImage(2, '/p/100x_done/b.jpg'),
        newImage(3, '/p/100%_done2/c.jpg'),
        newImage(4, '/p/100%_done/sub/d.jpg')
      ]);
      const under = (await catalog.pathsUnder('/p/100%_done')).map((p) => p.path).sort();
      expect(under).toEqual(['/p/100%_done/a.jpg', '/p/100%_done/sub/d.jpg']);
    });

    describe('paths are exact bytes', () => {
      /** Adds one image per path; returns the paths pathsUnder(root) lists, sorted by bytes. */
      async function under(root: string, paths: readonly string[]): Promise<string[]> {
        await catalog.addImages(paths.map((path, i) => newImage(i + 1, path)));
        return (await catalog.pathsUnder(root))
          .map((p) => p.path)
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      }

      it('tells folders apart that differ only by letter case', async () => {
        const listed = await under('/R/photos', [
          '/R/photos/a.jpg',
          '/R/Photos/a.jpg',
          '/R/PHOTOS/b.jpg',
          '/r/photos/c.jpg'
        ]);
        expect(listed).toEqual(['/R/photos/a.jpg']);
        expect((await catalog.pathsUnder('/R/Photos')).map((p) => p.path)).toEqual([
          '/R/Photos/a.jpg'
        ]);
      });

      it('takes %, _ and ! in a folder name literally', async () => {
        const listed = await under('/p/100%_!x', [
          '/p/100%_!x/a.jpg',
          '/p/100%_!x/sub/b.jpg',
          '/p/100%_!!x/c.jpg',
          '/p/100xy!x/d.jpg',
          '/p/100%%!x/e.jpg',
          '/p/100%_!x%/f.jpg',
          '/p/1000%_!x/g.jpg'
        ]);
        expect(listed).toEqual(['/p/100%_!x/a.jpg', '/p/100%_!x/sub/b.jpg']);
        expect((await catalog.pathsUnder('/p/100%_!!x')).map((p) => p.path)).toEqual([
          '/p/100%_!!x/c.jpg'
        ]);
      });

      it('leaves out siblings whose name starts with the folder name', async () => {
        const listed = await under('/R/photos', [
          '/R/photos',
          '/R/photos/x.jpg',
          '/R/photos2/x.jpg',
          '/R/photos.jpg',
          '/R/photos /x.jpg',
          '/R/photos-old/x.jpg'
        ]);
        // `/R/photos` itself is a file here: the root is listed too.
        expect(listed).toEqual(['/R/photos', '/R/photos/x.jpg']);
        expect((await catalog.pathsUnder('/a')).map((p) => p.path)).toEqual([]);
        await catalog.addImages([newImage(50, '/a/1.jpg'), newImage(51, '/ab/2.jpg')]);
        expect((await catalog.pathsUnder('/a')).map((p) => p.path)).toEqual(['/a/1.jpg']);
        expect((await catalog.pathsUnder('/a/')).map((p) => p.path)).toEqual(['/a/1.jpg']);
      });

      it('lists names starting with control or space characters under their folder', async () => {
        // Below ' ' in byte order: a padded comparison would put them before the folder itself.
        const listed = await under('/p', ['/p/\tx.jpg', '/p/\u0001.jpg', '/p/ .jpg', '/q/a.jpg']);
        expect(listed).toEqual(['/p/\u0001.jpg', '/p/\tx.jpg', '/p/ .jpg']);
      });

      it('compares a single file root byte for byte', async () => {
        await catalog.addImages([newImage(1, '/p/a.jpg'), newImage(2, '/p/A.jpg')]);
        expect((await catalog.pathsUnder('/p/a.jpg')).map((p) => p.path)).toEqual(['/p/a.jpg']);
        expect(await catalog.pathsUnder('/p/a.jpg ')).toEqual([]);
        expect(await catalog.getPath('/p/a.JPG')).toBeUndefined();
        expect(await catalog.getPath('/p/a.jpg ')).toBeUndefined();
        expect(await catalog.removePaths(['/p/A.JPG', '/p/a.jpg '])).toEqual([]);
        expect(await catalog.countImages()).toBe(2);
      });

      it('keeps unicode names distinct: composed vs decomposed, case, astral', async () => {
        // The indexer stores only names that are valid UTF-8 (it reports the others as failed),
        // so these are the names a catalog sees; none is normalised or folded.
        const composed = '/p/caf\u00e9';
        const decomposed = '/p/cafe\u0301';
        const listed = await under(composed, [
          `${composed}/a.jpg`,
          `${decomposed}/b.jpg`,
          '/p/CAF\u00c9/c.jpg',
          `${composed}/\u{1F600}\ufffd.jpg`
        ]);
        expect(listed).toEqual([`${composed}/a.jpg`, `${composed}/\u{1F600}\ufffd.jpg`]);
        expect((await catalog.pathsUnder(decomposed)).map((p) => p.path)).toEqual([
          `${decomposed}/b.jpg`
        ]);
      });

      it('handles paths near the 4096-byte limit, beyond any index prefix', async () => {
        // 3- and 4-byte UTF-8 characters in components of at most 255 bytes (the name limit); the
        // siblings differ from the folder only after its first 3000 bytes.
        const segment = `${'日本語'.repeat(20)}${'😀'.repeat(10)}photos`;
        const folder = `/p/${Array.from({ length: 16 }, () => segment).join('/')}`;
        const mine = `${folder}/${'é'.repeat(100)}.jpg`;
        expect(Buffer.byteLength(mine)).toBeGreaterThan(3800);
        expect(Buffer.byteLength(mine)).toBeLessThanOrEqual(4096);
        const listed = await under(folder, [
          mine,
          `${folder}2/a.jpg`,
          `${folder.slice(0, -'photos'.length)}Photos/a.jpg`,
          `${folder.slice(0, -1)}%/a.jpg`
        ]);
        expect(listed).toEqual([mine]);
        expect(await catalog.pathsUnder(`${folder}/su`)).toEqual([]);
      });
    });

    it('pages through every image with its paths and vector', async () => {
      await catalog.addImages([1, 2, 3, 4, 5].map((n) => newImage(n, `/p/${n}.jpg`)));
      const first = await catalog.imagesAfter(0, 2);
      const rest = await catalog.imagesAfter(first[1]!.id, 10);
      expect([...first, ...rest].map((i) => i.paths[0])).toEqual(
        [1, 2, 3, 4, 5].map((n) => `/p/${n}.jpg`)
      );
      expect(rest[0]!.vector.length).toBe(4);
    });

    it('lists ids without vectors, and reads the vectors of chosen ids', async () => {
      const { ids } = await catalog.addImages(
        [1, 2, 3, 4, 5].map((n) => newImage(n, `/p/${n}.jpg`))
      );
      expect(await catalog.idsAfter(0, 2)).toEqual(ids.slice(0, 2));
      expect(await catalog.idsAfter(ids[1]!, 10)).toEqual(ids.slice(2));
      const chosen = await catalog.vectorsOf([ids[3]!, ids[0]!, 999_999]);
      expect(chosen.map((v) => v.id).sort((a, b) => a - b)).toEqual([ids[0], ids[3]]);
      expect(Array.from(chosen.find((v) => v.id === ids[3])!.vector)).toEqual(
        Array.from(newImage(4, '').vector)
      );
      expect(await catalog.vectorsOf([])).toEqual([]);
    });

    it('clears everything, logging removals and forgetting the model', async () => {
      await catalog.claimCollection({ modelId: 'tiny', dimension: 4 });
      const { ids } = await catalog.addImages([newImage(1, '/p/a.jpg'), newImage(2, '/p/b.jpg')]);
      const before = await catalog.latestSeq();
      await catalog.clear();
      expect(await catalog.countImages()).toBe(0);
      expect(await catalog.getPath('/p/a.jpg')).toBeUndefined();
      expect((await catalog.removedSince(before)).sort()).toEqual([...ids].sort());
      expect(await catalog.collectionModel()).toBeUndefined();
      await catalog.claimCollection({ modelId: 'other', dimension: 8 });
    });

    describe('dialect-sensitive cases', () => {
      it('keeps paths apart that differ only by letter case or trailing spaces', async () => {
        const names = [
          '/p/Photo.jpg',
          '/p/photo.jpg',
          '/p/photo.jpg ',
          '/p/photo.jpg  ',
          '/P/x.jpg'
        ];
        const { ids } = await catalog.addImages(names.map((path, i) => newImage(i + 1, path)));
        expect(new Set(ids).size).toBe(names.length);
        const found = await catalog.getPaths([...names, '/p/PHOTO.jpg', '/p/photo.jpg   ']);
        expect([...found.keys()].sort()).toEqual([...names].sort());
        names.forEach((path, i) => expect(found.get(path)!.imageId).toBe(ids[i]));
        expect(await catalog.getPath('/p/PHOTO.jpg')).toBeUndefined();
        expect((await catalog.pathsUnder('/P')).map((p) => p.path)).toEqual(['/P/x.jpg']);
        expect(await catalog.removePaths(['/p/PHOTO.jpg', '/p/photo.jpg   '])).toEqual([]);
        expect(await catalog.removePaths(['/p/photo.jpg '])).toEqual([ids[2]]);
        expect((await catalog.getPath('/p/photo.jpg'))!.imageId).toBe(ids[1]);
        expect((await catalog.getPath('/p/photo.jpg  '))!.imageId).toBe(ids[3]);
        expect(await catalog.countImages()).toBe(names.length - 1);
      });

      it('round-trips non-ASCII names, 4-byte characters included, unchanged', async () => {
        const names = [
          '/p/caf\u00e9.jpg',
          '/p/cafe\u0301.jpg',
          '/p/\u{1F600}/\u{10FFFF}.jpg',
          '/p/日本.jpg'
        ];
        const { ids } = await catalog.addImages(names.map((path, i) => newImage(i + 1, path)));
        const found = await catalog.getPaths(names);
        expect([...found.keys()].sort()).toEqual([...names].sort());
        const images = await catalog.getImages(ids);
        expect(ids.map((id) => images.get(id)!.paths[0])).toEqual(names);
        expect((await catalog.pathsUnder('/p/\u{1F600}')).map((p) => p.path)).toEqual([names[2]]);
      });

      it('keeps a path of exactly 4096 bytes (the schema limit) whole', async () => {
        // 3- and 4-byte characters in components of at most 255 bytes (the file-name limit).
        const segment = `${'日本語'.repeat(20)}${'😀'.repeat(15)}`;
        const folder = `/p/${Array.from({ length: 15 }, () => segment).join('/')}`;
        const stem = `${folder}/${segment}/`;
        const path = `${stem}${'a'.repeat(4096 - Buffer.byteLength(stem) - 4)}.jpg`;
        expect(Buffer.byteLength(path)).toBe(4096);
        const { ids } = await catalog.addImages([newImage(1, path)]);
        expect((await catalog.getPath(path))?.path).toBe(path);
        expect((await catalog.getImages(ids)).get(ids[0]!)!.paths).toEqual([path]);
        expect((await catalog.pathsUnder(folder)).map((p) => p.path)).toEqual([path]);
        expect(await catalog.removePaths([path])).toEqual(ids);
      });

      it('lists pending images, removals and pages in id or change order', async () => {
        const { ids } = await catalog.addImages(
          [1, 2, 3, 4, 5, 6].map((n) => newImage(n, `/p/${n}.jpg`))
        );
        await catalog.markIndexed([ids[1]!, ids[4]!]);
        expect((await catalog.pendingImages(10)).map((p) => p.id)).toEqual([
          ids[0],
          ids[2],
          ids[3],
          ids[5]
        ]);
        expect((await catalog.pendingImages(2)).map((p) => p.id)).toEqual([ids[0], ids[2]]);
        // Removed against id order: the log replays in the order of the removals.
        await catalog.removePaths(['/p/5.jpg']);
        await catalog.removePaths(['/p/1.jpg']);
        await catalog.removePaths(['/p/3.jpg']);
        expect(await catalog.removedSince(0)).toEqual([ids[4], ids[0], ids[2]]);
        expect(await catalog.idsAfter(0, 10)).toEqual([ids[1], ids[3], ids[5]]);
        expect((await catalog.imagesAfter(ids[1]!, 10)).map((i) => i.id)).toEqual([ids[3], ids[5]]);
        // A re-added file gets a new id and the highest seq.
        const again = await catalog.addImages([newImage(1, '/p/1.jpg')]);
        const changed = await catalog.vectorsChangedSince(0, 10);
        expect(changed.map((c) => c.id)).toEqual([ids[1], ids[3], ids[5], again.ids[0]]);
      });

      it('works in chunks: 5000 paths added, re-linked, read, removed and cleared', async () => {
        const many = Array.from({ length: 5000 }, (_, i) => newImage(i + 1, `/m/${i}.jpg`));
        const { ids } = await catalog.addImages(many);
        expect(new Set(ids).size).toBe(5000);
        const links = ids.map((id, i) => ({
          path: `/c/${i}.jpg`,
          imageId: id,
          size: 1,
          mtimeMs: 1
        }));
        expect(await catalog.linkPaths(links)).toEqual([]);
        expect((await catalog.getImages(ids)).size).toBe(5000);
        expect((await catalog.vectorsOf(ids)).length).toBe(5000);
        expect(await catalog.removePaths(many.map((m) => m.file.path))).toEqual([]);
        const removed = await catalog.removePaths(links.slice(0, 4000).map((l) => l.path));
        expect(removed).toEqual(ids.slice(0, 4000));
        expect(await catalog.removedSince(0)).toEqual(ids.slice(0, 4000));
        const before = await catalog.latestSeq();
        await catalog.clear();
        expect(await catalog.removedSince(before)).toEqual(ids.slice(4000));
        expect(await catalog.countImages()).toBe(0);
      });

      it('returns big vectors bit for bit', async () => {
        const image = newImage(1, '/p/big.jpg', 2048);
        for (let i = 0; i < 2048; i++) image.vector[i] = Math.fround(Math.sin(i * 7.3) * 1e-3 * i);
        image.vector[0] = -0;
        image.vector[1] = Number.MIN_VALUE;
        image.vector[2] = 3.4028234663852886e38;
        const { ids } = await catalog.addImages([image]);
        const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        const [stored] = await catalog.vectorsOf(ids);
        expect(bytes(stored!.vector).equals(bytes(image.vector))).toBe(true);
        const [page] = await catalog.imagesAfter(0, 1);
        expect(bytes(page!.vector).equals(bytes(image.vector))).toBe(true);
        const [pending] = await catalog.pendingImages(1);
        expect(bytes(pending!.vector).equals(bytes(image.vector))).toBe(true);
      });

      it('leaves the revision alone on writes that change nothing', async () => {
        const { ids } = await catalog.addImages([newImage(1, '/p/a.jpg')]);
        const revision = await catalog.contentRevision();
        const seq = await catalog.latestSeq();
        await catalog.addImages([]);
        await catalog.linkPaths([]);
        await catalog.removePaths([]);
        await catalog.removePaths(['/p/A.jpg', '/p/a.jpg ']);
        await catalog.markIndexed(ids);
        await catalog.markIndexed([999_999]);
        await catalog.linkPaths([{ path: '/p/a.jpg', imageId: ids[0]!, size: 5, mtimeMs: 6 }]);
        expect(await catalog.contentRevision()).toBe(revision);
        expect(await catalog.latestSeq()).toBe(seq);
      });

      it('numbers concurrent writes without gaps, duplicates or deadlocks', async () => {
        const n = 20;
        await Promise.all(
          Array.from({ length: n }, (_, i) => catalog.addImages([newImage(i, `/p/${i}.jpg`)]))
        );
        await Promise.all([
          ...Array.from({ length: n / 2 }, (_, i) => catalog.removePaths([`/p/${i}.jpg`])),
          ...Array.from({ length: n / 2 }, (_, i) =>
            catalog.addImages([newImage(100 + i, `/q/${i}.jpg`)])
          )
        ]);
        const changed = await catalog.vectorsChangedSince(0, 1000);
        const removedIds = await catalog.removedSince(0);
        expect(removedIds).toHaveLength(n / 2);
        expect(changed).toHaveLength(n);
        expect(await catalog.latestSeq()).toBe(n + n / 2 + n / 2);
        const seqs = changed.map((c) => c.seq);
        expect(new Set(seqs).size).toBe(seqs.length);
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      });
    });
  });
}
