import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { LOCK_FILE, lockDataDir } from '../../server/data-dir-lock';

/**
 * `serve` locks its data directory before its first model download, and the runtime it then
 * opens locks it again: the second lock shares the first one's file instead of deleting and
 * re-creating it, which would leave a moment with no lock at all for another process to take.
 */
it('locks a data directory this process holds already without letting go of it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-lock-reentry-'));
  try {
    const path = join(dir, LOCK_FILE);
    const unlockFirst = await lockDataDir(dir);
    const before = await stat(path, { bigint: true });
    const unlockAgain = await lockDataDir(dir);
    const after = await stat(path, { bigint: true });
    expect(after.ino).toBe(before.ino);
    expect(after.birthtimeNs).toBe(before.birthtimeNs);
    await unlockAgain();
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
    await unlockFirst(); // nothing left to remove
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
