import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedder } from '../../server/embedding/embedder';
import { EVENT_INTERVAL_MS } from '../../server/http/routes/index-jobs';
import {
  errorOf,
  indexAndWait,
  jsonRequest,
  listen,
  readEvents,
  startTestServer,
  writeScenes,
  type JobBody,
  type TestServer
} from './helpers';

/** Makes every model call wait for `gate` (then `delayMs`), so a job's pace is under control. */
function slowDown(embedder: Embedder, delayMs = 0) {
  const original = embedder.embedPixels.bind(embedder);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  embedder.embedPixels = async (images) => {
    await gate;
    await new Promise((r) => setTimeout(r, delayMs));
    return original(images);
  };
  return {
    release,
    restore: () => {
      release();
      embedder.embedPixels = original;
    }
  };
}

let s: TestServer;
let set: string;

beforeAll(async () => {
  s = await startTestServer({}, { batchSize: 2 });
  set = join(s.imagesRoot, 'set');
  const paths = await writeScenes(set, 20);
  await writeFile(join(set, 'notes.txt'), 'not a picture\n');
  // A JPEG that ends right after its header: sharp cannot decode it.
  const { readFile } = await import('node:fs/promises');
  const head = (await readFile(paths[0]!)).subarray(0, 300);
  await writeFile(join(set, 'broken.jpg'), head);
  await copyFile(paths[0]!, join(set, 'copy-of-00.jpg'));
});

afterAll(() => s.close());

describe('POST /api/index', () => {
  it('indexes a folder with exact counters, then incrementally', async () => {
    const first = await indexAndWait(s.app, set);
    expect(first).toMatchObject({
      state: 'done',
      path: set,
      seen: 23,
      indexed: 21, // 20 pictures + the copy, linked to its original
      unchanged: 0,
      skipped: 1, // notes.txt
      failed: 1, // broken.jpg
      removed: 0
    });
    expect(first.errors.map((e) => e.path).sort()).toEqual(
      [join(set, 'broken.jpg'), join(set, 'notes.txt')].sort()
    );
    expect(first.finishedAt).toBeGreaterThanOrEqual(first.createdAt);
    const count = (await (await s.app.request('/api/images/count')).json()) as { count: number };
    expect(count).toEqual({ count: 20 });

    const again = await indexAndWait(s.app, set);
    expect(again).toMatchObject({
      state: 'done',
      seen: 23,
      indexed: 0,
      unchanged: 21,
      skipped: 1,
      failed: 1,
      removed: 0
    });
    expect(again.jobId).not.toBe(first.jobId);

    await rm(join(set, 'img-19.jpg'));
    const third = await indexAndWait(s.app, set);
    expect(third).toMatchObject({ seen: 22, unchanged: 20, removed: 1 });
    expect(await (await s.app.request('/api/images/count')).json()).toEqual({ count: 19 });

    const list = (await (await s.app.request('/api/index')).json()) as { jobs: JobBody[] };
    expect(list.jobs.slice(0, 3).map((j) => j.jobId)).toEqual([
      third.jobId,
      again.jobId,
      first.jobId
    ]);
    const one = await s.app.request(`/api/index/${first.jobId}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual(first);
  });

  it('answers 202 with a job id at once', async () => {
    const res = await s.app.request('/api/index', jsonRequest({ path: set, recursive: false }));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { jobId: string };
    expect(Object.keys(body)).toEqual(['jobId']);
    expect(body.jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await s.runtime.jobs.waitFor(body.jobId)).toMatchObject({ state: 'done' });
  });

  it('validates the body', async () => {
    for (const body of [{}, { path: '' }, { path: 42 }, { path: set, recursive: 'yes' }]) {
      const res = await s.app.request('/api/index', jsonRequest(body));
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await errorOf(res)).error.code).toBe('invalid_request');
    }
    const malformed = await s.app.request('/api/index', jsonRequest('{"path": '));
    expect(malformed.status).toBe(400);
    expect((await errorOf(malformed)).error.code).toBe('invalid_request');
  });

  it('answers 404 for unknown jobs', async () => {
    for (const [method, path] of [
      ['GET', '/api/index/no-such-job'],
      ['DELETE', '/api/index/no-such-job'],
      ['GET', '/api/index/no-such-job/events']
    ] as const) {
      const res = await s.app.request(path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect((await errorOf(res)).error.code).toBe('not_found');
    }
  });

  it('cancels a queued job', async () => {
    const slow = slowDown(s.runtime.embedder);
    try {
      const folder = join(s.imagesRoot, 'cancel');
      await writeScenes(folder, 3, { firstSeed: 500 });
      const running = (await (
        await s.app.request('/api/index', jsonRequest({ path: folder }))
      ).json()) as { jobId: string };
      const queued = (await (
        await s.app.request('/api/index', jsonRequest({ path: folder }))
      ).json()) as { jobId: string };
      const res = await s.app.request(`/api/index/${queued.jobId}`, { method: 'DELETE' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ jobId: queued.jobId, state: 'cancelled', seen: 0 });
      slow.release();
      expect(await s.runtime.jobs.waitFor(running.jobId)).toMatchObject({
        state: 'done',
        indexed: 3
      });
      const after = (await (await s.app.request(`/api/index/${queued.jobId}`)).json()) as JobBody;
      expect(after.state).toBe('cancelled');
    } finally {
      slow.restore();
    }
  });
});

describe('GET /api/index/:jobId/events', () => {
  let t: TestServer;
  let server: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    t = await startTestServer({}, { batchSize: 1 });
    server = await listen(t.app);
  });
  afterAll(async () => {
    await server.close();
    await t.close();
  });

  it('streams progress, throttled, and ends with the final state', async () => {
    const folder = join(t.imagesRoot, 'sse');
    await writeScenes(folder, 12, { firstSeed: 300 });
    const slow = slowDown(t.runtime.embedder, 40);
    try {
      const start = await fetch(`${server.url}/api/index`, jsonRequest({ path: folder }));
      expect(start.status).toBe(202);
      const { jobId } = (await start.json()) as { jobId: string };
      let emitted = 0;
      const stop = t.runtime.jobs.subscribe(jobId, () => emitted++);

      const res = await fetch(`${server.url}/api/index/${jobId}/events`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events = readEvents<JobBody>(res, (event, i) => {
        if (i === 0) {
          // Nothing can have been embedded yet: the model is held until the first event.
          expect(event.indexed).toBe(0);
          slow.release();
        }
      });
      const received = await events;
      stop();

      const last = received.at(-1)!.data;
      expect(last).toMatchObject({
        jobId,
        state: 'done',
        seen: 12,
        indexed: 12,
        unchanged: 0,
        skipped: 0,
        failed: 0
      });
      expect(received.filter((e) => e.data.state === 'done')).toHaveLength(1);
      // The counting walk gives the total long before the job ends, so the page can show a fraction.
      expect(last.total).toBe(12);
      const early = received.find((e) => e.data.total !== undefined)!.data;
      expect(early.total).toBe(12);
      expect(early.seen).toBeLessThan(12);
      // Progress in between, never going backwards.
      const counts = received.map((e) => e.data.indexed);
      expect(counts.some((n) => n > 0 && n < 12)).toBe(true);
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
      // Throttled: fewer events than changes, and at most one per interval (plus the last).
      expect(emitted).toBeGreaterThanOrEqual(13);
      expect(received.length).toBeLessThan(emitted);
      const span = received.at(-1)!.at - received[0]!.at;
      expect((received.length - 2) * EVENT_INTERVAL_MS).toBeLessThanOrEqual(span + 50);
    } finally {
      slow.restore();
    }
  });

  it('sends a finished job once and closes', async () => {
    const done = await indexAndWait(t.app, join(t.imagesRoot, 'sse'));
    const res = await fetch(`${server.url}/api/index/${done.jobId}/events`);
    const received = await readEvents<JobBody>(res);
    expect(received.map((e) => e.data)).toEqual([done]);
  });
});

describe('paths outside the image roots', () => {
  let outside: string;

  beforeAll(async () => {
    outside = join(s.base, 'outside');
    await writeScenes(outside, 2, { firstSeed: 900 });
    await mkdir(join(s.imagesRoot, 'links'), { recursive: true });
    const { symlink } = await import('node:fs/promises');
    await symlink(outside, join(s.imagesRoot, 'links', 'escape'));
  });

  it('refuses them with 403 or 404 and starts no job', async () => {
    const before = (await (await s.app.request('/api/index?limit=100')).json()) as {
      jobs: JobBody[];
    };
    const cases: [string, number][] = [
      ['../..', 403],
      [join(s.imagesRoot, '..', '..'), 403],
      [outside, 403],
      ['/etc', 403],
      [join(s.imagesRoot, 'links', 'escape'), 403], // symlink inside the root, target outside
      [`${s.imagesRoot}/%2e%2e/%2e%2e/etc`, 404], // no decoding: a name that does not exist
      ['%2e%2e%2f%2e%2e%2fetc%2fpasswd', 404],
      [join(s.imagesRoot, 'missing'), 404],
      [`${s.imagesRoot}/\u0000/etc`, 403]
    ];
    for (const [path, status] of cases) {
      const res = await s.app.request('/api/index', jsonRequest({ path }));
      expect(res.status, path).toBe(status);
      const { error } = await errorOf(res);
      expect(error.code).toBe(status === 403 ? 'path_not_allowed' : 'not_found');
    }
    const after = (await (await s.app.request('/api/index?limit=100')).json()) as {
      jobs: JobBody[];
    };
    expect(after.jobs.length).toBe(before.jobs.length);
  });

  it('does not follow a symlink out of the root while indexing', async () => {
    const job = await indexAndWait(s.app, join(s.imagesRoot, 'links'));
    expect(job).toMatchObject({ state: 'done', seen: 1, indexed: 0, skipped: 1 });
    expect(job.errors[0]!.reason).toMatch(/outside the allowed image folders/);
  });
});
