import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedder } from '../../server/embedding/embedder';
import { EVENT_INTERVAL_MS } from '../../server/http/routes/index-jobs';
import { MAX_FOLLOWERS_PER_CLIENT, MAX_FOLLOWERS_PER_JOB } from '../../server/services/index-jobs';
import type {
  IndexJobErrorsEvent,
  IndexJobErrorsPage,
  IndexJobProgress
} from '../../src/lib/api/types';
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

  it('resumes a stopped job: a new job on its folder finishes the rest', async () => {
    const folder = join(s.imagesRoot, 'resume');
    await writeScenes(folder, 6, { firstSeed: 700 });
    const slow = slowDown(s.runtime.embedder);
    let stopped: string;
    try {
      stopped = (
        (await (await s.app.request('/api/index', jsonRequest({ path: folder }))).json()) as {
          jobId: string;
        }
      ).jobId;
      // A queued or running job is answered as it is.
      const same = await s.app.request(`/api/index/${stopped}/resume`, { method: 'POST' });
      expect(same.status).toBe(202);
      expect(await same.json()).toEqual({ jobId: stopped });
      await s.app.request(`/api/index/${stopped}`, { method: 'DELETE' });
    } finally {
      slow.restore();
    }
    expect((await s.runtime.jobs.waitFor(stopped)).state).toBe('cancelled');
    const res = await s.app.request(`/api/index/${stopped}/resume`, { method: 'POST' });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    expect(jobId).not.toBe(stopped);
    const done = await s.runtime.jobs.waitFor(jobId);
    expect(done).toMatchObject({ state: 'done', path: expect.stringContaining('resume') });
    expect(done.indexed + done.unchanged).toBe(6);
    const missing = await s.app.request('/api/index/no-such-job/resume', { method: 'POST' });
    expect(missing.status).toBe(404);
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
      // Measured where the events arrive, so a first event delivered late shortens the span:
      // one interval of slack for that (CI saw 8 events in 547 ms).
      const span = received.at(-1)!.at - received[0]!.at;
      expect((received.length - 3) * EVENT_INTERVAL_MS).toBeLessThanOrEqual(span);
    } finally {
      slow.restore();
    }
  });

  it('sends a finished job once and closes', async () => {
    const done = await indexAndWait(t.app, join(t.imagesRoot, 'sse'));
    const res = await fetch(`${server.url}/api/index/${done.jobId}/events`);
    const received = await readEvents<JobBody>(res);
    const { errors, ...progress } = done;
    expect(errors).toEqual([]);
    expect(received.map((e) => e.data)).toEqual([progress]);
  });
});

/** `count` files that are not pictures: each one is a per-file error. */
async function writeBadFiles(dir: string, count: number) {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i++)
    await writeFile(join(dir, `bad-${String(i).padStart(4, '0')}.txt`), `not a picture ${i}\n`);
}

type StreamEvent = { event: string; id?: string; data: IndexJobProgress | IndexJobErrorsEvent };
const errorsOf = (events: StreamEvent[]) =>
  events.filter((e) => e.event === 'errors').map((e) => e.data as IndexJobErrorsEvent);
const progressOf = (events: StreamEvent[]) =>
  events.filter((e) => e.event === 'message').map((e) => e.data as IndexJobProgress);

describe('the errors of a job with many bad files', () => {
  let t: TestServer;
  let server: Awaited<ReturnType<typeof listen>>;
  let folder: string;

  beforeAll(async () => {
    t = await startTestServer({}, { batchSize: 4 });
    server = await listen(t.app);
    folder = join(t.imagesRoot, 'bad');
    await writeBadFiles(folder, 250);
    await writeScenes(folder, 6, { firstSeed: 700 });
  });
  afterAll(async () => {
    await server.close();
    await t.close();
  });

  it('streams new errors once, with their offsets, and progress without the error list', async () => {
    const slow = slowDown(t.runtime.embedder, 5);
    try {
      const start = await fetch(`${server.url}/api/index`, jsonRequest({ path: folder }));
      const { jobId } = (await start.json()) as { jobId: string };
      const res = await fetch(`${server.url}/api/index/${jobId}/events`);
      const received = (await readEvents<StreamEvent['data']>(res, (_, i) => {
        if (i === 0) slow.release();
      })) as StreamEvent[];
      const batches = errorsOf(received);
      // Contiguous: each errors event starts where the previous one ended.
      let next = 0;
      for (const batch of batches) {
        expect(batch.offset).toBe(next);
        next += batch.errors.length;
      }
      expect(next).toBe(250);
      expect(new Set(batches.flatMap((b) => b.errors.map((e) => e.path))).size).toBe(250);
      const progress = progressOf(received);
      expect(progress.at(-1)).toMatchObject({ state: 'done', skipped: 250, errorCount: 250 });
      for (const p of progress) expect(p).not.toHaveProperty('errors');
      // Every event's id is the number of errors sent so far: where a reconnect resumes.
      let sent = 0;
      for (const e of received) {
        if (e.event === 'errors') sent += (e.data as IndexJobErrorsEvent).errors.length;
        expect(Number(e.id)).toBe(sent);
      }
    } finally {
      slow.restore();
    }
  });

  it('pages the errors; the job body lists only the first ones', async () => {
    const done = await indexAndWait(t.app, folder);
    expect(done.errorCount).toBe(250);
    expect(done.errors).toHaveLength(20);
    const pages: IndexJobErrorsPage[] = [];
    for (const offset of [0, 100, 200]) {
      const res = await t.app.request(`/api/index/${done.jobId}/errors?offset=${offset}&limit=100`);
      expect(res.status).toBe(200);
      pages.push((await res.json()) as IndexJobErrorsPage);
    }
    expect(pages.map((p) => [p.total, p.offset, p.errors.length])).toEqual([
      [250, 0, 100],
      [250, 100, 100],
      [250, 200, 50]
    ]);
    expect(pages[0]!.errors.slice(0, 20)).toEqual(done.errors);
    const all = pages.flatMap((p) => p.errors.map((e) => e.path));
    expect(new Set(all).size).toBe(250);
    expect((await t.app.request(`/api/index/${done.jobId}/errors?limit=5000`)).status).toBe(400);
    expect((await t.app.request('/api/index/nope/errors')).status).toBe(404);

    // A finished job's stream: its errors in events of 100, then the final state.
    const full = (await readEvents(
      await fetch(`${server.url}/api/index/${done.jobId}/events`)
    )) as StreamEvent[];
    expect(errorsOf(full).map((b) => [b.offset, b.errors.length])).toEqual([
      [0, 100],
      [100, 100],
      [200, 50]
    ]);
    expect(full.map((e) => e.id)).toEqual(['100', '200', '250', '250']);
    // Resuming: Last-Event-ID (what EventSource sends on reconnecting), or ?errorsFrom=.
    const resumed = (await readEvents(
      await fetch(`${server.url}/api/index/${done.jobId}/events`, {
        headers: { 'Last-Event-ID': '200' }
      })
    )) as StreamEvent[];
    expect(errorsOf(resumed).map((b) => [b.offset, b.errors.length])).toEqual([[200, 50]]);
    expect(errorsOf(resumed)[0]!.errors).toEqual(pages[2]!.errors);
    const tail = (await readEvents(
      await fetch(`${server.url}/api/index/${done.jobId}/events?errorsFrom=250`)
    )) as StreamEvent[];
    expect(tail.map((e) => e.event)).toEqual(['message']);
  });

  it('bounds the streams per job and per client (429 with Retry-After)', async () => {
    const slow = slowDown(t.runtime.embedder);
    const streams: AbortController[] = [];
    const open = async (from?: string) => {
      const abort = new AbortController();
      const init = { signal: abort.signal };
      const res = from
        ? await t.app.request(`/api/index/${jobId}/events`, init, {
            incoming: { socket: { remoteAddress: from } }
          })
        : await fetch(`${server.url}/api/index/${jobId}/events`, init);
      if (res.status === 200) streams.push(abort);
      return res;
    };
    const start = await t.app.request('/api/index', jsonRequest({ path: folder }));
    const { jobId } = (await start.json()) as { jobId: string };
    try {
      for (let i = 0; i < MAX_FOLLOWERS_PER_CLIENT; i++) expect((await open()).status).toBe(200);
      const refused = await open();
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await errorOf(refused)).error.code).toBe('too_many_requests');
      // Other clients may still follow, up to the limit per job.
      for (let i = MAX_FOLLOWERS_PER_CLIENT; i < MAX_FOLLOWERS_PER_JOB; i++)
        expect((await open(`10.0.0.${i}`)).status).toBe(200);
      expect((await open('10.0.1.1')).status).toBe(429);
      // A stream that closes frees its place.
      streams.shift()!.abort();
      await expect.poll(async () => (await open()).status, { timeout: 5000 }).toBe(200);
    } finally {
      for (const stream of streams) stream.abort();
      slow.restore();
      await t.runtime.jobs.waitFor(jobId);
    }
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

  it('refuses them with 404, like missing paths, and starts no job', async () => {
    const before = (await (await s.app.request('/api/index?limit=100')).json()) as {
      jobs: JobBody[];
    };
    // Outside and missing get one answer, so it tells nothing about what exists outside.
    const cases: [string, number][] = [
      ['../..', 404],
      [join(s.imagesRoot, '..', '..'), 404],
      [outside, 404],
      ['/etc', 404],
      [join(s.imagesRoot, 'links', 'escape'), 404], // symlink inside the root, target outside
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
