import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DataDirInUseError, lockDataDir } from '../../server/data-dir-lock';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lookalike-lock-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

it('lets one process at a time use a data directory', async () => {
  const unlock = await lockDataDir(dir);
  // Another live process holds it: pretend by writing our parent's pid as the holder.
  await writeFile(
    join(dir, 'lookalike.lock'),
    JSON.stringify({ host: hostname(), pid: process.ppid })
  );
  const error = await lockDataDir(dir).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DataDirInUseError);
  expect((error as Error).message).toMatch(new RegExp(`in use by process ${process.ppid}`));
  // Our own unlock must not remove a lock that is not ours.
  await unlock();
  expect(await readFile(join(dir, 'lookalike.lock'), 'utf8')).toContain(String(process.ppid));
});

it('takes over a lock left by a process that is gone, and releases it', async () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  await writeFile(
    join(dir, 'lookalike.lock'),
    JSON.stringify({ host: hostname(), pid: Number(dead.stdout) })
  );
  const unlock = await lockDataDir(dir);
  expect(JSON.parse(await readFile(join(dir, 'lookalike.lock'), 'utf8'))).toEqual({
    host: hostname(),
    pid: process.pid
  });
  await unlock();
  await expect(readFile(join(dir, 'lookalike.lock'))).rejects.toThrow(/ENOENT/);
  await (
    await lockDataDir(dir)
  )();
});
