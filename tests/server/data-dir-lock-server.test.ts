import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  DataDirInUseError,
  findRunningServer,
  LOCK_FILE,
  lockDataDir,
  recordRunningServer,
  SERVER_FILE
} from '../../server/data-dir-lock';
import { baseUrlOf } from '../../server/cli/server-client';

/** The record `serve` leaves next to the lock so that CLI commands can reach it. */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lookalike-lock-server-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const deadPid = () =>
  Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout);

it('records the server owner-only and removes only its own record', async () => {
  const forget = await recordRunningServer(dir, {
    url: 'http://localhost:5000',
    adminToken: 'a-secret-token'
  });
  const path = join(dir, SERVER_FILE);
  expect((await stat(path)).mode & 0o777).toBe(0o600);
  expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
    url: 'http://localhost:5000',
    pid: process.pid,
    host: hostname(),
    adminToken: 'a-secret-token'
  });
  // Another process's record (written after ours) is not ours to remove.
  const other = JSON.stringify({
    url: 'http://localhost:5001',
    pid: process.ppid,
    host: hostname()
  });
  await writeFile(path, other);
  await forget();
  expect(await readFile(path, 'utf8')).toBe(other);
});

it('finds a live server of this machine holding the lock, not a gone one, another host or itself', async () => {
  const path = join(dir, SERVER_FILE);
  expect(await findRunningServer(dir)).toBeUndefined();
  const record = { url: 'http://0.0.0.0:5000', pid: process.ppid, host: hostname() };
  await writeFile(path, JSON.stringify(record));
  // Without the lock (a crashed server's pid reused by another process) it is not believed.
  expect(await findRunningServer(dir)).toBeUndefined();
  await writeFile(join(dir, LOCK_FILE), JSON.stringify({ host: hostname(), pid: process.ppid }));
  expect(await findRunningServer(dir)).toEqual(record);
  await writeFile(path, JSON.stringify({ ...record, pid: deadPid() }));
  expect(await findRunningServer(dir)).toBeUndefined();
  await writeFile(path, JSON.stringify({ ...record, host: `not-${hostname()}` }));
  expect(await findRunningServer(dir)).toBeUndefined();
  await writeFile(path, JSON.stringify({ ...record, pid: process.pid }));
  expect(await findRunningServer(dir)).toBeUndefined();
  await writeFile(path, '{ not json');
  expect(await findRunningServer(dir)).toBeUndefined();
});

it('names the server holding the lock, and how to stop it', async () => {
  await writeFile(join(dir, LOCK_FILE), JSON.stringify({ host: hostname(), pid: process.ppid }));
  await writeFile(
    join(dir, SERVER_FILE),
    JSON.stringify({ url: 'http://localhost:5123', pid: process.ppid, host: hostname() })
  );
  const error = await lockDataDir(dir).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DataDirInUseError);
  expect((error as Error).message).toBe(
    `The data directory ${dir} is in use by \`lookalike serve\` on http://localhost:5123 ` +
      `(pid ${process.ppid}): stop it first (Ctrl-C in its terminal, or kill ${process.ppid}).`
  );
});

it('calls a server on every interface or "localhost" at 127.0.0.1', () => {
  expect(baseUrlOf('http://localhost:5000')).toBe('http://127.0.0.1:5000');
  expect(baseUrlOf('http://0.0.0.0:5000')).toBe('http://127.0.0.1:5000');
  expect(baseUrlOf('https://[::]:5443')).toBe('https://127.0.0.1:5443');
  expect(baseUrlOf('http://192.168.1.20:5000')).toBe('http://192.168.1.20:5000');
  expect(baseUrlOf('http://[::1]:5000')).toBe('http://[::1]:5000');
});
