import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { LOCK_FILE, lockDataDir } from '../../server/data-dir-lock';

/** What lockDataDir answers in a separate process: 'locked', or the error's message. */
function lockFromAnotherProcess(dir: string): string {
  const module = resolve('server/data-dir-lock.ts');
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { lockDataDir } = await import(${JSON.stringify(module)});
       await lockDataDir(${JSON.stringify(dir)}).then(
         () => process.stdout.write('locked'),
         (error) => process.stdout.write(error.message)
       );`
    ],
    { encoding: 'utf8', timeout: 60_000 }
  );
  expect(child.stderr).toBe('');
  return child.stdout;
}

/**
 * `serve` locks its data directory before its first model download, and the runtime it then
 * opens locks it again: the second lock shares the first one's file instead of deleting and
 * re-creating it (which would leave a moment with no lock for another process to take), and the
 * file stays until both have let go, whichever closes first.
 */
it('keeps a data directory locked until the last holder in this process unlocks', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-lock-reentry-'));
  try {
    const path = join(dir, LOCK_FILE);
    const unlockFirst = await lockDataDir(dir);
    const before = await stat(path, { bigint: true });
    const unlockAgain = await lockDataDir(dir);
    const after = await stat(path, { bigint: true });
    expect(after.ino).toBe(before.ino);
    expect(after.birthtimeNs).toBe(before.birthtimeNs);

    await unlockFirst();
    await unlockFirst(); // a second call does not count as the other holder's
    await stat(path);
    expect(lockFromAnotherProcess(dir)).toMatch(new RegExp(`in use by process ${process.pid}`));

    await unlockAgain();
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
    expect(lockFromAnotherProcess(dir)).toBe('locked');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);
