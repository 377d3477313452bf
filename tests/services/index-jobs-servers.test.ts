import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedder } from '../../server/embedding/embedder';
import type { Runtime } from '../../server/runtime';
import {
  IndexJobs,
  isFinished,
  type JobEvent,
  type OwnerProcess
} from '../../server/services/index-jobs';
import type { JobRecord, JobStore } from '../../server/stores/job-store';
import { writeScenes } from '../http/helpers';
import { testRuntime } from '../helpers/runtime';

/**
 * Several "servers" (IndexJobs with their own server id and clock) on one job store, in one
 * process: the store as several processes on MySQL see it (not exclusive). The real
 * multi-process case, on MariaDB and Milvus, is tests/scaleout/two-servers.test.ts.
 */

const LEASE_MS = 10_000;

let base: string;
let runtime: Runtime;
let cleanup: () => Promise<void>;
let shared: JobStore;
const opened: IndexJobs[] = [];

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'lookalike-servers-'));
  ({ runtime, cleanup } = await testRuntime({ roots: [base] }));
  // The SQLite store says it is exclusive (one process); as MySQL's, this one is shared.
  shared = Object.assign(Object.create(runtime.jobStore) as JobStore, { exclusive: false });
});
afterAll(async () => {
  await Promise.all(opened.map((jobs) => jobs.close()));
  await cleanup();
  await rm(base, { recursive: true, force: true });
});

/** An embedder that waits at every batch until `open()` (to hold a job mid-run). */
function gatedEmbedder() {
  let release!: () => void;
  let gate = new Promise<void>((resolve) => (release = resolve));
  const embedder = Object.create(runtime.embedder) as Embedder;
  embedder.embedPixels = async (pixels) => {
    await gate;
    return runtime.embedder.embedPixels(pixels);
  };
  return {
    embedder,
    open: () => {
      release();
      gate = Promise.resolve();
    }
  };
}

interface Server {
  jobs: IndexJobs;
  clock: { now: number };
}

function server(
  id: string,
  options: {
    embedder?: Embedder;
    collectionName?: string;
    ownerProcess?: OwnerProcess | null;
    store?: JobStore;
  } = {}
): Server {
  const clock = { now: Date.now() };
  const jobs = new IndexJobs({
    collection: runtime.collection,
    store: options.store ?? shared,
    decoder: runtime.decoder,
    embedder: options.embedder ?? runtime.embedder,
    roots: runtime.roots,
    batchSize: 2,
    serverId: id,
    collectionName: options.collectionName,
    leaseMs: LEASE_MS,
    renewEveryMs: 40,
    pollMs: 20,
    ownerProcess: options.ownerProcess === undefined ? null : options.ownerProcess,
    now: () => clock.now
  });
  opened.push(jobs);
  return { jobs, clock };
}

let folders = 0;
async function folder(count: number): Promise<string> {
  const dir = join(base, `f${folders++}`);
  await writeScenes(dir, count, { firstSeed: 1000 * folders });
  return dir;
}

const waitUntil = async (check: () => Promise<boolean> | boolean, what: string) => {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A running job of another server, leased for LEASE_MS from now. */
const record = (jobId: string, ownerProcess: OwnerProcess): JobRecord => ({
  jobId,
  state: 'running',
  path: join(base, `p-${jobId}`),
  recursive: true,
  seen: 0,
  indexed: 0,
  unchanged: 0,
  skipped: 0,
  failed: 0,
  removed: 0,
  errors: [],
  createdAt: Date.now(),
  collection: 'default',
  owner: `owner-${jobId}`,
  leaseUntil: Date.now() + LEASE_MS,
  ownerProcess
});

describe('index jobs of several servers on one job store', () => {
  it("a server's start answers another server's running job of the folder, and its init leaves it alone", async () => {
    const gated = gatedEmbedder();
    const a = server('A', { embedder: gated.embedder });
    const b = server('B');
    const dir = await folder(5);
    const first = await a.jobs.start({ path: dir });
    await waitUntil(async () => (await a.jobs.get(first.jobId))!.state === 'running', 'running');

    // B starting up marks nothing of A's; B's start of the same folder answers A's job.
    expect(await b.jobs.init()).toBe(0);
    const second = await b.jobs.start({ path: dir });
    expect(second.jobId).toBe(first.jobId);
    expect(second.owner).toBe('A');
    expect((await b.jobs.get(first.jobId))!.state).toBe('running');
    expect((await b.jobs.list(5)).map((j) => j.jobId)).toContain(first.jobId);

    // B follows and waits for A's job through the store.
    const events = await b.jobs.follow(first.jobId);
    const seen: JobEvent[] = [];
    const followed = (async () => {
      for await (const event of events) seen.push(event);
    })();
    const waited = b.jobs.waitFor(first.jobId);
    gated.open();
    const done = await waited;
    await followed;
    expect(done).toMatchObject({ jobId: first.jobId, state: 'done', indexed: 5 });
    expect(seen.at(-1)).toMatchObject({ type: 'progress', job: { state: 'done', indexed: 5 } });
    // Only one job ever ran the folder.
    const ofFolder = (await b.jobs.list(50)).filter((j) => j.path === first.path);
    expect(ofFolder).toHaveLength(1);
  });

  it('a folder whose server stopped renewing is taken over once its lease ran out; the old owner stops', async () => {
    const gated = gatedEmbedder();
    const a = server('A2', { embedder: gated.embedder });
    const b = server('B2');
    const dir = await folder(6);
    const first = await a.jobs.start({ path: dir });
    await waitUntil(async () => (await a.jobs.get(first.jobId))!.state === 'running', 'running');

    // Within the lease: B answers A's job.
    expect((await b.jobs.start({ path: dir })).jobId).toBe(first.jobId);
    // A's clock stands still (a server that lost its way); B's moves past A's lease.
    b.clock.now += LEASE_MS + 1;
    expect((await b.jobs.get(first.jobId))!.state).toBe('interrupted');
    const takeover = await b.jobs.start({ path: dir });
    expect(takeover.jobId).not.toBe(first.jobId);
    expect(takeover.owner).toBe('B2');
    expect((await shared.get(first.jobId))!.state).toBe('interrupted');

    // A learns at its next renewal that the job is not its own any more, and stops it.
    const lost = await a.jobs.waitFor(first.jobId);
    expect(lost.state).toBe('interrupted');
    expect(lost.message).toMatch(/another server took/);
    gated.open();
    const finished = await b.jobs.waitFor(takeover.jobId);
    expect(finished).toMatchObject({ state: 'done' });
    expect(finished.indexed + finished.unchanged).toBe(6);
    // A wrote nothing after it lost the job.
    expect((await shared.get(first.jobId))!.message).toMatch(/server stopped/);
    expect((await runtime.collection.pathsUnder(takeover.path)).length).toBe(6);
  });

  it("at start a server marks interrupted only the jobs whose lease ran out (not a live server's)", async () => {
    const gated = gatedEmbedder();
    const a = server('A3', { embedder: gated.embedder });
    const dir = await folder(3);
    const running = await a.jobs.start({ path: dir });
    const stale: JobRecord = {
      ...running,
      jobId: 'stale-job',
      path: join(base, 'elsewhere'),
      owner: 'gone',
      leaseUntil: Date.now() - 1
    };
    const unowned: JobRecord = { ...stale, jobId: 'old-row' };
    delete unowned.owner;
    delete unowned.leaseUntil;
    await shared.save(stale);
    await shared.save(unowned);
    const c = server('C3');
    expect(await c.jobs.init()).toBe(2);
    expect((await shared.get('stale-job'))!.state).toBe('interrupted');
    expect((await shared.get('old-row'))!.state).toBe('interrupted');
    expect((await shared.get(running.jobId))!.state).not.toBe('interrupted');
    gated.open();
    expect((await a.jobs.waitFor(running.jobId)).state).toBe('done');
  });

  it('on one machine, a job whose owner process is gone is stopped at once; elsewhere the lease counts', async () => {
    const gone = { machine: 'boot-1/pid:[1]', pid: 2 ** 22 + 12345 };
    await shared.save(record('same-machine', gone));
    await shared.save(record('other-machine', { ...gone, machine: 'boot-2/pid:[1]' }));
    await shared.save(record('restarted', { ...gone, pid: process.pid }));
    const d = server('D4', { ownerProcess: { machine: gone.machine, pid: process.pid } });
    expect((await d.jobs.get('same-machine'))!.state).toBe('interrupted');
    expect((await d.jobs.get('restarted'))!.state).toBe('interrupted');
    expect((await d.jobs.get('other-machine'))!.state).toBe('running');
    expect(await d.jobs.init()).toBe(2);
  });

  it("cancels another server's job: its owner stops at its next renewal", async () => {
    const gated = gatedEmbedder();
    const a = server('A5', { embedder: gated.embedder });
    const b = server('B5');
    const dir = await folder(4);
    const job = await a.jobs.start({ path: dir });
    await waitUntil(async () => (await a.jobs.get(job.jobId))!.state === 'running', 'running');
    const asked = await b.jobs.cancel(job.jobId);
    expect(asked).toMatchObject({ jobId: job.jobId, state: 'running', cancelRequested: true });
    // A few of A's renewals (every 40 ms) go by while its first batch waits at the gate.
    await new Promise((r) => setTimeout(r, 300));
    gated.open();
    expect(await b.jobs.waitFor(job.jobId)).toMatchObject({ state: 'cancelled' });
  });

  it("closing ends the following of and waiting for another server's job", async () => {
    const gated = gatedEmbedder();
    const a = server('A8', { embedder: gated.embedder });
    const b = server('B8');
    const job = await a.jobs.start({ path: await folder(2) });
    const events = await b.jobs.follow(job.jobId);
    const followed = (async () => {
      const got: JobEvent[] = [];
      for await (const event of events) got.push(event);
      return got.length;
    })();
    const waited = b.jobs.waitFor(job.jobId);
    await new Promise((r) => setTimeout(r, 100));
    await b.jobs.close();
    expect(isFinished(await waited)).toBe(false);
    expect(await followed).toBeGreaterThan(0);
    gated.open();
    expect((await a.jobs.waitFor(job.jobId)).state).toBe('done');
  });

  it("sees only its own collection's jobs in list, latest and init", async () => {
    const other = server('E6', { collectionName: 'other' });
    const def = server('E6b');
    const dir = await folder(2);
    const job = await def.jobs.start({ path: dir });
    expect(job.collection).toBe('default');
    await def.jobs.waitFor(job.jobId);
    const stale: JobRecord = { ...job, jobId: 'default-stale', state: 'running', leaseUntil: 0 };
    await shared.save(stale);
    expect(await other.jobs.init()).toBe(0);
    expect(other.jobs.latest).toBeUndefined();
    expect(await other.jobs.list(100)).toEqual([]);
    expect((await shared.get('default-stale'))!.state).toBe('running');
    expect(await def.jobs.init()).toBe(1);
    expect(def.jobs.latest!.jobId).toBeDefined();
    // Same folder in another collection: its own job.
    const elsewhere = await other.jobs.start({ path: dir });
    expect(elsewhere.collection).toBe('other');
    expect((await other.jobs.waitFor(elsewhere.jobId)).state).toBe('done');
    expect((await other.jobs.list(5)).map((j) => j.jobId)).toEqual([elsewhere.jobId]);
  });

  it('on an exclusive store (SQLite in a locked data directory) every job not run here is stopped', async () => {
    const f = server('F7', { store: runtime.jobStore });
    const stale: JobRecord = {
      ...record('exclusive-stale', { machine: 'elsewhere', pid: 1 }),
      owner: 'another'
    };
    await runtime.jobStore.save(stale);
    expect(runtime.jobStore.exclusive).toBe(true);
    expect((await f.jobs.get('exclusive-stale'))!.state).toBe('interrupted');
  });
});
