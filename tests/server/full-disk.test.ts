import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, REPO_ROOT } from '../helpers/cli';
import { scene } from '../helpers/images';
import { TEST_MODEL_CACHE, testModel } from '../helpers/models';
import { errorOf, imageForm, jsonRequest, writeScenes, type JobBody } from '../http/helpers';

/**
 * A real server whose data directory and stderr share one small disk (a tmpfs this test mounts,
 * which needs root). Filling that disk must not stop the server answering: health says
 * `degraded` with the reason, writes fail with 507 "disk full: …", and everything works again
 * once space is freed.
 */

const base = await mkdtemp(join(tmpdir(), 'lookalike-full-disk-'));
const disk = join(base, 'disk');
await mkdir(disk);
const mounted = (() => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', disk], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

const images = join(base, 'images');
const stderrFile = join(disk, 'stderr.log');
const filler = join(disk, 'filler');
let server: ChildProcess | undefined;
let url = '';

/** Writes zeros until the disk refuses (ENOSPC), in big then page-sized chunks. */
function fillDisk() {
  const fd = openSync(filler, 'a');
  try {
    for (const size of [1024 * 1024, 4096]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every request must answer quickly: a server stuck on its log would time out here. */
const get = (path: string, init: RequestInit = {}) =>
  fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(5000) });

const getJob = async (jobId: string) =>
  (await (await get(`/api/index/${jobId}`)).json()) as JobBody;
const FINISHED = ['done', 'failed', 'cancelled', 'interrupted'];
const finished = (jobId: string) =>
  until(`job ${jobId} to finish`, async () => {
    const job = await getJob(jobId);
    return FINISHED.includes(job.state) ? job : undefined;
  });

async function startJob(path: string): Promise<string> {
  const res = await get('/api/index', jsonRequest({ path }));
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as { jobId: string }).jobId;
}

interface Health {
  status: string;
  reason?: string;
}
const health = async () => (await (await get('/api/health')).json()) as Health;

beforeAll(async () => {
  if (!mounted) return;
  await testModel('tiny');
  await writeScenes(join(images, 'first'), 3, { width: 160, height: 120 });
  await writeScenes(join(images, 'after'), 3, { width: 160, height: 120, firstSeed: 50 });
  // Many copies of one picture: each is a catalog write, so the job runs long enough to be
  // caught by the full disk part way.
  const copy = await scene(160, 120, 100);
  await mkdir(join(images, 'many'));
  for (let i = 0; i < 3000; i++) await writeFile(join(images, 'many', `${i}.jpg`), copy);

  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('LOOKALIKE_') && !['PORT', 'HOST', 'LOG_LEVEL'].includes(key))
      env[key] = value;
  }
  const stderr = openSync(stderrFile, 'a');
  server = spawn(
    process.execPath,
    [CLI_BIN, 'serve', '--model', 'tiny', '--port', '0', '--batch-size', '1'],
    {
      cwd: REPO_ROOT,
      env: {
        ...env,
        LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE,
        LOOKALIKE_DATA_DIR: join(disk, 'data'),
        LOOKALIKE_IMAGE_ROOTS: images,
        LOG_LEVEL: 'debug' // a line per request, reads included: the log fills and fails first
      },
      stdio: ['ignore', 'ignore', stderr]
    }
  );
  closeSync(stderr);
  url = await until(
    'the server to start',
    async () =>
      (await readFile(stderrFile, 'utf8')).match(/Lookalike on (http:\/\/[^\s]+)/)?.[1] ??
      (server!.exitCode === null ? undefined : Promise.reject(new Error('server exited'))),
    60_000
  );
}, 120_000);

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    const timer = setTimeout(() => server!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (mounted) execFileSync('umount', ['--lazy', disk]);
  await rm(base, { recursive: true, force: true });
});

describe.skipIf(!mounted)('a full data disk (tmpfs; skipped where mount fails)', () => {
  it('keeps answering, fails writes with "disk full", and recovers when space returns', async ({
    onTestFailed
  }) => {
    // The server's log lives on the disk, which is gone after the test.
    onTestFailed(async () => {
      const log = await readFile(stderrFile, 'utf8').catch(() => '');
      console.error(`server stderr (last 4000 characters):\n${log.slice(-4000)}`);
    });
    expect((await finished(await startJob(join(images, 'first')))).state).toBe('done');
    expect(await health()).toEqual(expect.objectContaining({ status: 'ok' }));

    // The disk fills while a job runs.
    const jobId = await startJob(join(images, 'many'));
    const running = await until('the job to index', async () => {
      const job = await getJob(jobId);
      return job.indexed + job.unchanged > 0 ? job : undefined;
    });
    fillDisk();
    expect(FINISHED, 'the job ended before the disk was full').not.toContain(running.state);
    const failed = await finished(jobId);
    expect(failed.state).toBe('failed');
    expect(failed.message).toMatch(/^disk full: /);

    // Whatever the failed job gave back is taken too. Logging a line per request now fails
    // (beyond the last page of the log file); every request still answers at once.
    fillDisk();
    for (let i = 0; i < 100; i++) {
      const started = Date.now();
      const res = await get('/api/health');
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(2000);
      const body = (await res.json()) as Health;
      expect(body.status).toBe('degraded');
      expect(body.reason).toMatch(/^disk full: .* free for the data directory/);
    }

    // The bootcamp-compatible load, which waits for its job, says so too (whether the job could not
    // even be recorded, or failed on its first write).
    const load = await get('/img/load', jsonRequest({ File: join(images, 'after') }));
    expect(load.status).toBe(507);
    expect((await errorOf(load)).error.message).toMatch(/disk full: /);

    const upload = await get('/img/upload', {
      method: 'POST',
      body: imageForm(await scene(160, 120, 200))
    });
    expect(upload.status).toBe(507);
    const { error } = await errorOf(upload);
    expect(error.code).toBe('storage_full');
    expect(error.message).toMatch(/^disk full: /);

    // Space comes back: so do health, indexing and uploads, without a restart.
    await unlink(filler);
    expect(await health()).toEqual(expect.objectContaining({ status: 'ok' }));
    expect(await health()).not.toHaveProperty('reason');
    const after = await finished(await startJob(join(images, 'after')));
    expect(after).toMatchObject({ state: 'done', indexed: 3 });
    const retried = await get('/img/upload', {
      method: 'POST',
      body: imageForm(await scene(160, 120, 200))
    });
    expect(retried.status, await retried.clone().text()).toBe(200);
    expect(await retried.json()).toMatch(/^Successfully loaded data: \d+$/);

    // The lines lost while the disk was full are counted whenever a line gets through again.
    const log = await until('the dropped-lines note', async () => {
      const text = await readFile(stderrFile, 'utf8');
      return text.includes('log lines were dropped') ? text : undefined;
    });
    const notes = log
      .split('\n')
      .filter((line) => line.includes('log lines were dropped'))
      .map((line) => JSON.parse(line) as { dropped: number; reason: string });
    const dropped = notes.reduce((sum, note) => sum + note.dropped, 0);
    expect(dropped).toBeGreaterThan(50); // of the 100 health requests' lines
    expect(notes.map((note) => note.reason)).toContain('ENOSPC');
    expect(server!.exitCode).toBeNull();
  }, 120_000);
});
