import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  realpath,
  rm,
  symlink,
  writeFile
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../server/runtime';
import type { OpenCollection } from '../../server/services/collections';
import { scene } from '../helpers/images';
import { testRuntime } from '../helpers/runtime';
import { writeScenes } from '../http/helpers';

/** Polls `check` until it holds (a watch reacts within seconds), else fails with what it saw. */
async function eventually<T>(
  check: () => Promise<T>,
  holds: (value: T) => boolean,
  timeoutMs = 15_000
): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  let value = await check();
  while (!holds(value)) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`not within ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
    value = await check();
  }
  return { value, ms: Date.now() - start };
}

/** The path search finds first for the picture in `file` (its own vector). */
async function topPath(open: OpenCollection, file: string): Promise<string | undefined> {
  const [hit] = await open.collection.search(await open.embedder.embedOne(file), 1);
  return hit?.path;
}

async function indexed(open: OpenCollection, folder: string) {
  const job = await open.jobs.start({ path: folder });
  return open.jobs.waitFor(job.jobId);
}

describe('Library: folders, re-index, removal and watched folders', () => {
  let base: string;
  let root: string;
  let outside: string;
  let dataDir: string;
  let runtime: Runtime;
  let close: () => Promise<void>;
  /** Pictures kept outside the watched folder, copied in by the tests. */
  let spare: string[];

  const start = async (env: Record<string, string> = {}) => {
    ({ runtime, cleanup: close } = await testRuntime({
      roots: [root],
      dataDir,
      env: { LOOKALIKE_WATCH_MAX_DIRS: '50', ...env }
    }));
    await runtime.library.startWatching();
    return runtime.collections.defaultCollection;
  };

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'lookalike-library-')));
    root = join(base, 'root');
    outside = join(base, 'outside');
    dataDir = join(base, 'data');
    await mkdir(dataDir);
    await writeScenes(join(root, 'photos'), 3, { firstSeed: 1 });
    await writeScenes(join(root, 'photos', 'sub'), 1, { firstSeed: 10, prefix: 'sub' });
    await writeScenes(join(root, 'other'), 2, { firstSeed: 20 });
    spare = await writeScenes(join(base, 'spare'), 3, { firstSeed: 40, prefix: 'spare' });
    await writeScenes(outside, 1, { firstSeed: 60 });
  }, 60_000);

  afterAll(async () => {
    await close?.();
    await rm(base, { recursive: true, force: true });
  });

  it('lists each indexed folder with its pictures and last run; re-index starts its job', async () => {
    const open = await start();
    const photos = join(root, 'photos');
    expect(await runtime.library.folders(open)).toEqual([]);
    expect((await indexed(open, photos)).state).toBe('done');
    expect((await indexed(open, join(root, 'other'))).state).toBe('done');
    const folders = await runtime.library.folders(open);
    expect(folders.map((f) => [f.path, f.pictures, f.watched, f.lastRun?.state])).toEqual([
      [join(root, 'other'), 2, false, 'done'],
      [photos, 4, false, 'done']
    ]);
    const again = await runtime.library.reindex(open, photos);
    expect(again.path).toBe(photos);
    expect((await open.jobs.waitFor(again.jobId)).unchanged).toBe(4);
    await expect(runtime.library.reindex(open, join(root, 'nope'))).rejects.toMatchObject({
      status: 404
    });
  }, 60_000);

  it('watches a folder: a new picture is searchable within seconds, a deleted one goes', async () => {
    const open = runtime.collections.defaultCollection;
    const photos = join(root, 'photos');
    const info = await runtime.library.setWatched(open, photos, true);
    expect(info).toMatchObject({ watched: true, watch: { mode: 'events' } });
    // One directory watch per directory (photos, photos/sub), none per file.
    expect(runtime.library.watchDirectories).toBe(2);

    const added = join(photos, 'sub', 'new-1.jpg');
    await copyFile(spare[0]!, added);
    const found = await eventually(
      () => topPath(open, spare[0]!),
      (p) => p === added
    );
    console.log(`watched folder: copy → searchable in ${found.ms} ms`);

    // A new subfolder is watched too, and dot folders are not.
    await mkdir(join(photos, 'later'));
    await mkdir(join(photos, '.hidden'));
    await eventually(
      async () => runtime.library.watchDirectories,
      (n) => n === 3
    );
    const deeper = join(photos, 'later', 'new-2.jpg');
    await copyFile(spare[1]!, deeper);
    await eventually(
      () => topPath(open, spare[1]!),
      (p) => p === deeper
    );

    await rm(added);
    const gone = await eventually(
      () => open.collection.getPath(added),
      (record) => record === undefined
    );
    console.log(`watched folder: delete → gone in ${gone.ms} ms`);
    expect(await topPath(open, spare[0]!)).not.toBe(added);
  }, 60_000);

  it('refuses to watch a folder outside the roots, and a folder not in the Library', async () => {
    const open = runtime.collections.defaultCollection;
    await expect(runtime.library.setWatched(open, outside, true)).rejects.toMatchObject({
      status: 404
    });
    // A Library folder swapped for a symlink leading out of the roots is refused too.
    const swapped = join(root, 'swapped');
    await mkdir(swapped);
    await indexed(open, swapped);
    await rm(swapped, { recursive: true });
    await symlink(outside, swapped);
    await expect(runtime.library.setWatched(open, swapped, true)).rejects.toMatchObject({
      status: 404
    });
    await runtime.library.remove(open, swapped);
    await rm(swapped);
    // One file indexed on its own is in the Library, but only folders are watched.
    const single = join(root, 'other', 'img-00.jpg');
    await indexed(open, single);
    await expect(runtime.library.setWatched(open, single, true)).rejects.toMatchObject({
      status: 400
    });
    await runtime.library.remove(open, single);
    expect((await open.collection.getPath(single))?.path).toBe(single);
  }, 60_000);

  it('keeps watching across a restart, and catches up with changes made while it was down', async () => {
    await close();
    const photos = join(root, 'photos');
    const whileDown = join(photos, 'while-down.jpg');
    await copyFile(spare[2]!, whileDown);
    const open = await start();
    const [folder] = (await runtime.library.folders(open)).filter((f) => f.path === photos);
    expect(folder).toMatchObject({ watched: true, watch: { mode: 'events' } });
    await eventually(
      () => topPath(open, spare[2]!),
      (p) => p === whileDown
    );
  }, 60_000);

  it('polls instead of events when asked (network shares)', async () => {
    await close();
    const open = await start({ LOOKALIKE_WATCH_POLL_MS: '1000' });
    const photos = join(root, 'photos');
    const [folder] = (await runtime.library.folders(open)).filter((f) => f.path === photos);
    expect(folder!.watch).toEqual({ mode: 'polling', everyMs: 1000 });
    expect(runtime.library.watchDirectories).toBe(0);
    const polled = join(photos, 'polled.jpg');
    await writeFile(polled, await scene(96, 72, 80));
    const found = await eventually(
      () => open.collection.getPath(polled),
      (record) => record !== undefined
    );
    console.log(`polled folder (1000 ms): write → indexed in ${found.ms} ms`);
  }, 60_000);

  it('removes a folder: its files leave the collection, the files on disk stay', async () => {
    const open = runtime.collections.defaultCollection;
    const photos = join(root, 'photos');
    const onDisk = await readdir(photos);
    const before = await open.collection.count();
    const { pictures, files } = await runtime.library.remove(open, photos);
    expect(files).toBeGreaterThanOrEqual(5);
    expect(pictures).toBe(files);
    expect(await open.collection.count()).toBe(before - pictures);
    expect(await open.collection.pathsUnder(photos)).toEqual([]);
    expect((await runtime.library.folders(open)).map((f) => f.path)).toEqual([join(root, 'other')]);
    expect(await readdir(photos)).toEqual(onDisk);
    // No longer watched: a new file is not picked up.
    await copyFile(spare[0]!, join(photos, 'after-removal.jpg'));
    await new Promise((r) => setTimeout(r, 2500));
    expect(await open.collection.getPath(join(photos, 'after-removal.jpg'))).toBeUndefined();
  }, 60_000);
});
