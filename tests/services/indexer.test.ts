import { cp, mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../server/runtime';
import { ForbiddenPathError, NotFoundError } from '../../server/errors';
import { generateFolder, type GeneratedFolder } from '../helpers/folders';
import { scene } from '../helpers/images';
import { testRuntime } from '../helpers/runtime';
import { ImageRoots } from '../../server/services/image-roots';
import { indexFolder } from '../../server/services/indexer';

let base: string;
let folder: GeneratedFolder;
let runtime: Runtime;
let cleanup: () => Promise<void>;

async function index(path = folder.root, recursive = true) {
  const job = await runtime.jobs.start({ path, recursive });
  return runtime.jobs.waitFor(job.jobId);
}

/** Every good picture, embedded on its own, must find an entry for its own path first. */
async function expectEachFindsItself(paths: string[]) {
  for (const rel of paths) {
    const vector = await runtime.embedder.embedOne(join(folder.root, rel));
    const [best] = await runtime.collection.search(vector, 3);
    const image = await runtime.collection.getImage(best!.id);
    expect(image!.paths, rel).toContain(join(folder.root, rel));
    expect(best!.score).toBeGreaterThan(0.9999);
  }
}

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'lookalike-indexer-'));
  folder = await generateFolder(join(base, 'photos'));
  ({ runtime, cleanup } = await testRuntime({ roots: [folder.root] }));
});

afterEach(async () => {
  await cleanup();
  await rm(base, { recursive: true, force: true });
});

describe('indexing a folder', () => {
  it('counts exactly, lists every bad file with a reason, and finds each picture itself', async () => {
    const job = await index();
    expect(job.state).toBe('done');
    const files = folder.good.length + folder.skipped.length + folder.failed.length;
    expect(job.seen).toBe(files);
    expect(job.indexed).toBe(folder.good.length);
    expect(job.skipped).toBe(folder.skipped.length);
    expect(job.failed).toBe(folder.failed.length);
    expect(job.errors.map((e) => e.path).sort()).toEqual(
      [...folder.skipped, ...folder.failed].map((rel) => join(folder.root, rel)).sort()
    );
    expect(job.errors.find((e) => e.path.endsWith('bomb.png'))!.reason).toMatch(
      /over the 100 MP limit/
    );
    expect(await runtime.collection.count()).toBe(folder.distinct);
    expect(await runtime.collection.indexedCount()).toBe(folder.distinct);
    await expectEachFindsItself(folder.good);
  });

  it('keeps one entry for identical files, with both paths known', async () => {
    await index();
    const vector = await runtime.embedder.embedOne(join(folder.root, 'copies/exact copy.jpg'));
    const [best] = await runtime.collection.search(vector, 1);
    const image = await runtime.collection.getImage(best!.id);
    expect(image!.paths.sort()).toEqual(
      [
        join(folder.root, 'album 0/ünïcødé photo 0.jpg'),
        join(folder.root, 'copies/exact copy.jpg')
      ].sort()
    );
  });

  it('re-indexes incrementally: unchanged skipped, changed re-embedded, deleted removed, added indexed', async () => {
    await index();
    expect((await index()).unchanged).toBe(folder.good.length);

    const changed = join(folder.root, 'img2.png');
    await writeFile(changed, await scene(330, 250, 500, 'png'));
    await rm(join(folder.root, 'a/b/c/img1.jpg'));
    await writeFile(join(folder.root, 'new.jpg'), await scene(300, 300, 600));
    // Touched but identical: size and mtime differ from the catalog, content does not.
    const touched = join(folder.root, 'img5.png');
    await utimes(touched, new Date(), new Date(Date.now() + 5000));

    const job = await index();
    expect(job.indexed).toBe(2); // the changed file and the new one
    expect(job.removed).toBe(1); // the deleted file (img2's old picture goes with its change)
    expect(job.unchanged).toBe(folder.good.length - 2); // everything else, the touched file included
    expect(await runtime.collection.count()).toBe(folder.distinct); // -1 deleted, +1 new
    expect(await runtime.collection.indexedCount()).toBe(folder.distinct);
    await expectEachFindsItself(['img2.png', 'new.jpg', 'img5.png']);
  });

  it('keeps the entry and vector of a moved or renamed file instead of re-embedding it', async () => {
    await index();
    const before = await runtime.collection.search(
      await runtime.embedder.embedOne(join(folder.root, 'img8.png')),
      1
    );
    await mkdir(join(folder.root, 'moved'));
    await rename(join(folder.root, 'img8.png'), join(folder.root, 'moved/renamed.png'));
    const job = await index();
    expect(job.indexed).toBe(1); // the new path, linked, not embedded
    expect(job.removed).toBe(0); // the picture kept its entry
    const image = await runtime.collection.getImage(before[0]!.id);
    expect(image!.paths).toEqual([join(folder.root, 'moved/renamed.png')]);
    expect(await runtime.collection.count()).toBe(folder.distinct);
  });

  it('indexes only the top folder when not recursive, and leaves the rest alone', async () => {
    const job = await index(folder.root, false);
    const top = folder.good.filter((p) => !p.includes('/'));
    expect(job.indexed).toBe(top.length);
    await index();
    const again = await index(folder.root, false);
    expect(again.removed).toBe(0);
    expect(await runtime.collection.count()).toBe(folder.distinct);
  });

  it('survives a symlink loop and does not follow symlinks out of the roots', async () => {
    await symlink(folder.root, join(folder.root, 'loop'));
    const outside = join(base, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.jpg'), await scene(300, 200, 777));
    await symlink(outside, join(folder.root, 'escape'));
    await symlink(join(outside, 'secret.jpg'), join(folder.root, 'escape.jpg'));
    const job = await index();
    expect(job.state).toBe('done');
    expect(
      job.errors
        .filter((e) => /outside the allowed/.test(e.reason))
        .map((e) => e.path)
        .sort()
    ).toEqual([join(folder.root, 'escape'), join(folder.root, 'escape.jpg')].sort());
    expect(await runtime.collection.count()).toBe(folder.distinct);
  });

  it('reads no file swapped for a link to the outside between listing and reading', async () => {
    const outside = join(base, 'outside');
    await mkdir(outside);
    const secret = join(outside, 'secret.jpg');
    await writeFile(secret, await scene(300, 200, 778));
    const victim = join(folder.root, folder.good[0]!);
    // The swap happens in the window the walk leaves: after listing, just before the read.
    const roots = await ImageRoots.create([folder.root]);
    const openFile = roots.openFile.bind(roots);
    roots.openFile = async (path: string) => {
      if (path === victim) {
        await rm(victim);
        await symlink(secret, victim);
      }
      return openFile(path);
    };
    const errors: { path: string; reason: string }[] = [];
    await indexFolder({
      root: folder.root,
      recursive: true,
      roots,
      collection: runtime.collection,
      decoder: runtime.decoder,
      embedder: runtime.embedder,
      batchSize: 4,
      onError: (error) => errors.push(error)
    });
    expect(errors).toContainEqual({
      path: victim,
      reason: 'No longer a file inside the image folders'
    });
    // Nothing of the outside picture reached the collection.
    expect(await runtime.collection.getPath(victim)).toBeUndefined();
    const [best] = await runtime.collection.search(await runtime.embedder.embedOne(secret), 1);
    expect(best?.score ?? 0).toBeLessThan(0.9999);
  });

  it('refuses paths outside the roots, however they are spelled, as if missing', async () => {
    const outside = join(base, 'outside');
    await mkdir(outside);
    for (const path of [base, '/', join(folder.root, '..'), `${folder.root}/../outside`, outside]) {
      await expect(runtime.jobs.start({ path }), path).rejects.toBeInstanceOf(NotFoundError);
    }
    await expect(runtime.jobs.start({ path: join(folder.root, '%2e%2e') })).rejects.toBeInstanceOf(
      NotFoundError
    );
    await expect(runtime.jobs.start({ path: `${folder.root}\0/x` })).rejects.toBeInstanceOf(
      ForbiddenPathError
    );
  });

  it('stops a cancelled job after a durable batch and removes nothing', async () => {
    const big = join(folder.root, 'big');
    await mkdir(big);
    for (let i = 0; i < 60; i++) await cp(join(folder.root, 'img2.png'), join(big, `copy${i}.png`));
    for (let i = 0; i < 40; i++)
      await writeFile(join(big, `n${i}.jpg`), await scene(200, 150, 1000 + i));
    const job = await runtime.jobs.start({ path: folder.root });
    const cancelled = await new Promise<string>((resolve) => {
      const stop = runtime.jobs.subscribe(job.jobId, (j) => {
        if (j.seen > 0 && j.state === 'running') void runtime.jobs.cancel(job.jobId);
        if (['cancelled', 'done'].includes(j.state)) {
          stop();
          resolve(j.state);
        }
      });
    });
    expect(cancelled).toBe('cancelled');
    const final = (await runtime.jobs.get(job.jobId))!;
    expect(final.seen).toBeLessThan(folder.good.length + 100);
    expect(final.removed).toBe(0);
    // What was counted as indexed is really there.
    expect(await runtime.collection.indexedCount()).toBe(await runtime.collection.count());
  });
});
