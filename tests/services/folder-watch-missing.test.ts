import { mkdir, mkdtemp, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderWatchers, type WatchTarget } from '../../server/services/folder-watch';
import { ImageRoots } from '../../server/services/image-roots';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` holds (checked every 50 ms), at most `ms`. */
async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await wait(50);
}

/**
 * A watched folder deleted (or moved, or its share unmounted) while the server runs: reported
 * `missing` (its pictures are kept: nothing starts a run that would fail, or forget them), and
 * watched again, with a catch-up run, when it is back.
 */
describe('FolderWatchers: a watched folder that goes away', () => {
  let base: string;
  let root: string;
  let folder: string;
  let changes: WatchTarget[];
  let watchers: FolderWatchers | undefined;

  const make = async (pollMs = 0) =>
    new FolderWatchers({
      roots: await ImageRoots.create([root]),
      pollMs,
      maxFolders: 8,
      maxDirectories: 100,
      debounceMs: 100,
      presenceCheckMs: 100,
      onChange: (target) => changes.push(target)
    });
  const target = (path: string): WatchTarget => ({ collection: 'default', path, recursive: true });

  beforeEach(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'lookalike-watch-missing-')));
    root = join(base, 'root');
    folder = join(root, 'share');
    await mkdir(join(folder, 'sub'), { recursive: true });
    await writeFile(join(folder, 'sub', 'a.jpg'), 'x');
    changes = [];
  });
  afterEach(async () => {
    watchers?.close();
    await rm(base, { recursive: true, force: true });
  });

  for (const [how, pollMs] of [
    ['file-system events', 0],
    ['polling', 100]
  ] as const) {
    it(`says "missing" while it is gone, then watches it again (${how})`, async () => {
      watchers = await make(pollMs);
      await watchers.sync([target(folder)]);
      await until(() => changes.length === 1);
      expect(changes).toHaveLength(1); // the catch-up run
      expect(watchers.state('default', folder)?.mode).toBe(pollMs ? 'polling' : 'events');

      await rename(folder, join(base, 'elsewhere'));
      await until(() => watchers!.state('default', folder)?.mode === 'missing');
      expect(watchers.state('default', folder)).toEqual({
        mode: 'missing',
        reason: expect.stringMatching(/gone from disk.*not mounted.*pictures are kept/s)
      });
      expect(watchers.directoryWatches).toBe(0);
      await wait(400);
      // Nothing handed on while it is gone: a run would fail (or forget every picture).
      expect(changes).toHaveLength(1);
      // A sync (every 30 s in the Library) keeps saying so.
      await watchers.sync([target(folder)]);
      expect(watchers.state('default', folder)?.mode).toBe('missing');

      await rename(join(base, 'elsewhere'), folder);
      await until(() => changes.length === 2);
      expect(changes).toEqual([target(folder), target(folder)]); // the catch-up run when back
      expect(watchers.state('default', folder)?.mode).toBe(pollMs ? 'polling' : 'events');
      if (!pollMs) expect(watchers.directoryWatches).toBe(2);
      changes = [];
      await writeFile(join(folder, 'sub', 'b.jpg'), 'x');
      await until(() => changes.length === 1);
      expect(changes).toHaveLength(1);
    });
  }

  it('starts a folder missing at start as missing, and forgets it when it is no longer wanted', async () => {
    await rm(folder, { recursive: true });
    watchers = await make();
    await watchers.sync([target(folder)]);
    expect(watchers.state('default', folder)?.mode).toBe('missing');
    await watchers.sync([]);
    expect(watchers.state('default', folder)).toBeUndefined();
    await mkdir(folder);
    await wait(300);
    expect(changes).toEqual([]);
  });
});
