import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupCliTempDirs, cliTempDir, startCli, type CliProcess } from '../helpers/cli';
import { dropCollection, milvusAnswers, uniqueCollectionName } from '../helpers/milvus';
import {
  dropDatabase,
  mysqlReachable,
  mysqlTestServerAddress,
  mysqlTestUrl
} from '../helpers/mysql';
import { jsonRequest, writeScenes, type JobBody } from '../http/helpers';

/**
 * Two real `lookalike serve` processes, each with its own data directory, sharing one MariaDB
 * database and one collection on the real Milvus standalone server, as several servers behind a
 * load balancer would. Needs LOOKALIKE_TEST_MYSQL_URL and LOOKALIKE_TEST_MILVUS_ADDRESS.
 */

const MYSQL = process.env.LOOKALIKE_TEST_MYSQL_URL;
const MILVUS = process.env.LOOKALIKE_TEST_MILVUS_ADDRESS;
const skipReason = !MYSQL
  ? 'LOOKALIKE_TEST_MYSQL_URL is not set'
  : !MILVUS
    ? 'LOOKALIKE_TEST_MILVUS_ADDRESS is not set'
    : !(await mysqlReachable())
      ? `no MySQL/MariaDB answers at ${mysqlTestServerAddress()}`
      : !(await milvusAnswers(MILVUS))
        ? `no Milvus answers at ${MILVUS}`
        : undefined;
if (skipReason) console.warn(`Two-server tests SKIPPED: ${skipReason}`);

/** Short leases, so a dead owner's job is taken over within seconds. */
const LEASE_MS = 4000;
const FINISHED = ['done', 'failed', 'cancelled', 'interrupted'];

interface Server {
  name: string;
  cli: CliProcess;
  base: string;
  dataDir: string;
}

const running: Server[] = [];
afterEach(() => {
  for (const { cli } of running.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
});
afterAll(() => cleanupCliTempDirs());

/** One shared MariaDB database and Milvus collection, and the image folder both servers allow. */
async function sharedStores() {
  const url = mysqlTestUrl();
  const collection = uniqueCollectionName('lk_two');
  const images = await cliTempDir('lookalike-two-images-');
  return {
    url,
    collection,
    images,
    env: (extra: Record<string, string> = {}) => ({
      MYSQL_URL: url,
      MILVUS_ADDRESS: MILVUS!,
      MILVUS_COLLECTION: collection,
      LOOKALIKE_IMAGE_ROOTS: images,
      LOOKALIKE_JOB_LEASE_MS: String(LEASE_MS),
      LOG_LEVEL: 'warn',
      ...extra
    }),
    cleanup: async () => {
      await dropDatabase(url).catch(() => undefined);
      await dropCollection(MILVUS!, collection).catch(() => undefined);
    }
  };
}

async function serve(
  name: string,
  env: Record<string, string>,
  options: { dataDir?: string; batchSize?: number } = {}
) {
  const dir = options.dataDir ?? (await cliTempDir(`lookalike-two-${name}-`));
  const batch = String(options.batchSize ?? 1);
  const cli = await startCli(['serve', '--model', 'tiny', '--port', '0', '--batch-size', batch], {
    env,
    dataDir: dir,
    timeoutMs: 600_000
  });
  const server: Server = { name, cli, base: '', dataDir: dir };
  running.push(server);
  const [, base] = await cli.waitForStderr(/Lookalike on (http:\/\/[^\s]+)/, 120_000);
  server.base = base!;
  return server;
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  const answer = await res;
  const text = await answer.text();
  if (!answer.ok) throw new Error(`${answer.status} ${answer.url}: ${text}`);
  return JSON.parse(text) as T;
}

const startJob = (server: Server, path: string) =>
  json<{ jobId: string }>(fetch(`${server.base}/api/index`, jsonRequest({ path })));

const getJob = (server: Server, jobId: string) =>
  json<JobBody>(fetch(`${server.base}/api/index/${jobId}`));

async function waitFinished(server: Server, jobId: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(server, jobId);
    if (FINISHED.includes(job.state)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const count = async (server: Server) =>
  (await json<{ count: number }>(fetch(`${server.base}/api/images/count`))).count;

/** The best matches of a picture's own bytes, through the server's model and Milvus. */
async function searchFile(server: Server, file: string) {
  const form = new FormData();
  form.set('image', new Blob([await readFile(file)]), 'query.jpg');
  form.set('topK', '3');
  const res = await fetch(`${server.base}/api/search/image`, { method: 'POST', body: form });
  return (await json<{ results: { path: string; score: number }[] }>(res)).results;
}

/** Every file is found by its own bytes (its vector reached Milvus), as one of `paths`. */
async function expectAllFound(server: Server, files: string[], paths = (f: string) => [f]) {
  for (const file of files) {
    const hits = await searchFile(server, file);
    const exact = hits.filter((hit) => hit.score > 0.999).map((hit) => hit.path);
    expect(
      exact.some((path) => paths(file).includes(path)),
      `${file}: ${exact.join(', ')}`
    ).toBe(true);
  }
}

describe.skipIf(skipReason !== undefined)(
  `two lookalike servers on one MariaDB + Milvus${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    it("a server starting up leaves the other's running job alone; both index different folders at once", async () => {
      const stores = await sharedStores();
      try {
        const first = await writeScenes(join(stores.images, 'first'), 60, {
          width: 320,
          height: 240
        });
        const second = await writeScenes(join(stores.images, 'second'), 40, {
          firstSeed: 500,
          width: 320,
          height: 240
        });
        const a = await serve('a', stores.env());
        const jobA = await startJob(a, join(stores.images, 'first'));
        await waitUntil('A indexes', async () => {
          const job = await getJob(a, jobA.jobId);
          return job.state === 'running' && job.indexed > 0 ? job : undefined;
        });

        // B starts (and runs its start-up job check) while A's job runs.
        const b = await serve('b', stores.env());
        const seenByB = await getJob(b, jobA.jobId);
        expect(seenByB.state).toBe('running');
        const jobB = await startJob(b, join(stores.images, 'second'));
        expect(jobB.jobId).not.toBe(jobA.jobId);
        expect((await getJob(a, jobB.jobId)).state).not.toBe('interrupted');

        const [doneA, doneB] = await Promise.all([
          waitFinished(a, jobA.jobId),
          waitFinished(b, jobB.jobId)
        ]);
        expect(doneA).toMatchObject({ state: 'done', seen: 60, indexed: 60, failed: 0 });
        expect(doneB).toMatchObject({ state: 'done', seen: 40, indexed: 40, failed: 0 });
        expect(await count(a)).toBe(100);
        expect(await count(b)).toBe(100);
        // Each server finds what the other indexed.
        await expectAllFound(a, second.slice(0, 10));
        await expectAllFound(b, first.slice(0, 10));
        // Each sees both jobs, finished.
        const listed = await json<{ jobs: JobBody[] }>(fetch(`${b.base}/api/index?limit=10`));
        expect(new Set(listed.jobs.map((j) => `${j.jobId}:${j.state}`))).toEqual(
          new Set([`${jobA.jobId}:done`, `${jobB.jobId}:done`])
        );
      } finally {
        await stores.cleanup();
      }
    }, 300_000);

    it('one job for a folder started on both at once; the same content in two folders, indexed by both at once, is linked', async () => {
      const stores = await sharedStores();
      try {
        await writeScenes(join(stores.images, 'same'), 30, { firstSeed: 900 });
        // The same 30 pictures (same bytes) under two folders, indexed in the same order.
        const left = await writeScenes(join(stores.images, 'left'), 30, { firstSeed: 2000 });
        const right = await writeScenes(join(stores.images, 'right'), 30, { firstSeed: 2000 });
        // One more picture first on the right: the two servers' batches of 4 overlap unevenly.
        await writeScenes(join(stores.images, 'right'), 1, { firstSeed: 1999, prefix: 'a-first' });
        const a = await serve('a', stores.env(), { batchSize: 4 });
        const b = await serve('b', stores.env(), { batchSize: 4 });

        const [onA, onB] = await Promise.all([
          startJob(a, join(stores.images, 'same')),
          startJob(b, join(stores.images, 'same'))
        ]);
        expect(onB.jobId).toBe(onA.jobId);
        const one = await waitFinished(b, onA.jobId);
        expect(one).toMatchObject({ state: 'done', seen: 30, indexed: 30, failed: 0 });
        expect(await count(a)).toBe(30);

        const [leftJob, rightJob] = await Promise.all([
          startJob(a, join(stores.images, 'left')),
          startJob(b, join(stores.images, 'right'))
        ]);
        const [leftDone, rightDone] = await Promise.all([
          waitFinished(a, leftJob.jobId),
          waitFinished(b, rightJob.jobId)
        ]);
        // Every file was added or linked: none was left out, none failed.
        expect(leftDone, leftDone.message).toMatchObject({ state: 'done', seen: 30, indexed: 30 });
        expect(rightDone, rightDone.message).toMatchObject({
          state: 'done',
          seen: 31,
          indexed: 31
        });
        expect(leftDone.failed + rightDone.failed).toBe(0);
        // One picture per content: the second writer linked its path to the first one's.
        expect(await count(a)).toBe(61);
        const twin = (file: string) => [file, file.replace('/left/', '/right/')];
        await expectAllFound(b, left.slice(0, 5), twin);
        await expectAllFound(a, right.slice(0, 5), (f) => twin(f.replace('/right/', '/left/')));
      } finally {
        await stores.cleanup();
      }
    }, 300_000);

    it('after kill -9 of the owner mid-job, the other server takes the folder over once the lease ran out and finishes it exactly', async () => {
      const stores = await sharedStores();
      try {
        const files = await writeScenes(join(stores.images, 'big'), 80, {
          firstSeed: 3000,
          width: 480,
          height: 360
        });
        const folder = join(stores.images, 'big');
        // Only the lease tells a dead owner here (the same-machine process check is off), as
        // for servers on different machines.
        const env = stores.env({ LOOKALIKE_JOB_OWNER_CHECK: 'lease' });
        const a = await serve('a', env);
        const b = await serve('b', env);
        const jobA = await startJob(a, folder);
        const before = await waitUntil('A has indexed some', async () => {
          const job = await getJob(a, jobA.jobId);
          if (job.state !== 'running') throw new Error(`A's job is ${job.state} already`);
          return job.indexed >= 10 ? job : undefined;
        });
        a.cli.child.kill('SIGKILL');
        const killedAt = Date.now();
        expect((await a.cli.exited).signal).toBe('SIGKILL');

        // While the lease holds, B still answers with A's job.
        const early = await startJob(b, folder);
        if (Date.now() - killedAt < LEASE_MS / 2) expect(early.jobId).toBe(jobA.jobId);
        // Then B's start of the folder takes it over.
        const takeover = await waitUntil(
          'B takes the folder over',
          async () => {
            const started = await startJob(b, folder);
            return started.jobId !== jobA.jobId ? started : undefined;
          },
          LEASE_MS * 5
        );
        const takeoverMs = Date.now() - killedAt;
        console.info(
          `two servers: folder taken over ${takeoverMs} ms after kill -9 (lease ${LEASE_MS} ms)`
        );
        expect(takeoverMs).toBeGreaterThan(LEASE_MS / 2);
        const old = await getJob(b, jobA.jobId);
        expect(old.state).toBe('interrupted');

        const done = await waitFinished(b, takeover.jobId);
        expect(done).toMatchObject({ state: 'done', seen: 80, failed: 0 });
        expect(done.indexed + done.unchanged).toBe(80);
        expect(done.unchanged).toBeGreaterThanOrEqual(before.indexed);
        // Exactly the folder: no picture twice, none missing, every vector in Milvus.
        expect(await count(b)).toBe(80);
        await expectAllFound(b, files);

        // A restart of the killed server agrees, and its old job stays interrupted.
        const again = await serve('a-again', env, { dataDir: a.dataDir });
        expect(await count(again)).toBe(80);
        expect((await getJob(again, jobA.jobId)).state).toBe('interrupted');
        expect((await getJob(again, takeover.jobId)).state).toBe('done');
      } finally {
        await stores.cleanup();
      }
    }, 300_000);
  }
);
