import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderWatchers, type WatchTarget } from '../../server/services/folder-watch';
import { ImageRoots } from '../../server/services/image-roots';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FolderWatchers', () => {
  let base: string;
  let root: string;
  let outside: string;
  let changes: WatchTarget[];
  let watchers: FolderWatchers;

  const make = async (options: { maxFolders?: number; maxDirectories?: number } = {}) =>
    new FolderWatchers({
      roots: await ImageRoots.create([root]),
      pollMs: 0,
      maxFolders: options.maxFolders ?? 8,
      maxDirectories: options.maxDirectories ?? 100,
      debounceMs: 200,
      onChange: (target) => changes.push(target)
    });
  const target = (path: string): WatchTarget => ({ collection: 'default', path, recursive: true });

  beforeEach(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'lookalike-watch-')));
    root = join(base, 'root');
    outside = join(base, 'outside');
    await mkdir(join(root, 'a', 'deep'), { recursive: true });
    await mkdir(join(root, '.git', 'objects'), { recursive: true });
    await mkdir(join(outside, 'x'), { recursive: true });
    await symlink(outside, join(root, 'a', 'link-out'));
    changes = [];
  });
  afterEach(async () => {
    watchers?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('watches each directory once, not dot folders nor symlinks out of the roots', async () => {
    watchers = await make();
    // Two syncs at once (a start and a toggle) must not both start the folder.
    await Promise.all([watchers.sync([target(root)]), watchers.sync([target(root)])]);
    expect(watchers.directoryWatches).toBe(3); // root, a, a/deep
    await wait(400);
    expect(changes).toHaveLength(1); // the catch-up run
    changes = [];
    await writeFile(join(outside, 'x', 'outside.jpg'), 'x');
    await writeFile(join(root, '.git', 'objects', 'o'), 'x');
    await wait(500);
    expect(changes).toEqual([]);
    // A burst of changes is handed on once.
    for (let i = 0; i < 5; i++) await writeFile(join(root, 'a', 'deep', `f${i}.jpg`), 'x');
    await wait(500);
    expect(changes).toHaveLength(1);
    watchers.close();
    expect(watchers.directoryWatches).toBe(0);
  });

  it('refuses folders outside the roots and beyond the caps, and says why', async () => {
    watchers = await make({ maxFolders: 1 });
    await watchers.sync([target(root), target(join(root, 'a')), target(outside)]);
    expect(watchers.state('default', root)).toEqual({ mode: 'events' });
    expect(watchers.state('default', join(root, 'a'))).toMatchObject({
      mode: 'refused',
      reason: expect.stringContaining('LOOKALIKE_WATCH_MAX_FOLDERS')
    });
    expect(watchers.state('default', outside)).toMatchObject({
      mode: 'refused',
      reason: expect.stringContaining('image roots')
    });
    await watchers.sync([]);
    expect(watchers.state('default', root)).toBeUndefined();
    expect(watchers.directoryWatches).toBe(0);
  });

  it('polls a tree too large for directory watches', async () => {
    watchers = await make({ maxDirectories: 2 });
    await watchers.sync([target(root)]);
    expect(watchers.state('default', root)).toMatchObject({
      mode: 'polling',
      reason: expect.stringContaining('LOOKALIKE_WATCH_MAX_DIRS')
    });
    expect(watchers.directoryWatches).toBe(0);
  });
});
