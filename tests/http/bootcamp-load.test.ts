import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressText } from '../../server/http/routes/bootcamp';
import { jobRecordSchema } from '../../server/stores/job-store';
import { scene } from '../helpers/images';
import { jsonRequest, startTestServer, writeScenes, type TestServer } from './helpers';

/**
 * `/img/load` and `/progress` as the original client uses them: it starts a load and polls
 * `/progress` until `current` equals `total`, so the total must be the real one from the start.
 * The original (milvus-io/bootcamp, operations/load.py) listed the folder with os.listdir (one
 * level, relative paths taken from its working directory) and set `total` before extracting.
 */

let s: TestServer;

beforeAll(async () => {
  // One file per batch, so a load of a few dozen files is slow enough to be watched.
  s = await startTestServer({}, { batchSize: 1 });
});

afterAll(() => s.close());

const post = (path: string, init: RequestInit = {}) =>
  s.app.request(path, { method: 'POST', ...init });
const progress = async () => (await (await s.app.request('/progress')).json()) as string;
const parse = (text: string) => {
  const match = /^current: (\d+), total: (\d+)$/.exec(text);
  if (!match) throw new Error(`not a progress answer: ${text}`);
  return { current: Number(match[1]), total: Number(match[2]) };
};

/** Starts a load and polls /progress until it answers; every answer polled meanwhile. */
async function loadWatching(body: unknown) {
  const before = await progress();
  let finished = false;
  const loading = Promise.resolve(post('/img/load', jsonRequest(body))).then(async (res) => {
    finished = true;
    return { status: res.status, body: (await res.json()) as unknown };
  });
  const seen: { text: string; whileLoading: boolean }[] = [];
  while (!finished) {
    const text = await progress();
    const whileLoading = !finished;
    // Until the load has begun, the previous load's progress may still show.
    if (text !== before || seen.length > 0) seen.push({ text, whileLoading });
    await new Promise((r) => setTimeout(r, 2));
  }
  return { result: await loading, seen, after: await progress() };
}

describe('/progress during a load', () => {
  it('reports the folder total from the first poll; current reaches it only at the end', async () => {
    const folder = join(s.imagesRoot, 'many');
    await writeScenes(folder, 40, { firstSeed: 100 });
    // Not pictures: skipped (a text file) and failed (a truncated JPEG) — still counted as dealt.
    await writeFile(join(folder, 'notes.txt'), 'not a picture');
    await writeFile(join(folder, 'broken.jpg'), (await scene(64, 48, 7)).subarray(0, 200));
    const { result, seen, after } = await loadWatching({ File: folder });
    expect(result).toEqual({ status: 200, body: 'Successfully loaded data!' });

    const during = seen.filter((p) => p.whileLoading).map((p) => parse(p.text));
    expect(during.length).toBeGreaterThan(0);
    for (const p of during) {
      expect(p.total).toBe(42);
      expect(p.current).toBeLessThan(42);
    }
    const currents = during.map((p) => p.current);
    expect(currents).toEqual([...currents].sort((a, b) => a - b));
    expect(after).toBe('current: 42, total: 42');
    expect(s.runtime.jobs.latest).toMatchObject({ indexed: 40, skipped: 1, failed: 1 });
  });

  it('loads only the folder itself by default, as the original did; Recursive adds subfolders', async () => {
    const folder = join(s.imagesRoot, 'nested');
    await writeScenes(folder, 3, { firstSeed: 300 });
    await writeScenes(join(folder, 'sub'), 2, { firstSeed: 400 });
    await post('/img/drop');

    const one = await loadWatching({ File: folder });
    expect(one.result.status).toBe(200);
    expect(one.after).toBe('current: 3, total: 3');
    expect(await (await post('/img/count')).json()).toBe(3);

    const all = await loadWatching({ File: folder, Recursive: true });
    expect(all.result.status).toBe(200);
    expect(all.after).toBe('current: 5, total: 5');
    expect(await (await post('/img/count')).json()).toBe(5);
  });

  it('takes a relative File from the working directory, still only inside the image roots', async () => {
    const folder = join(s.imagesRoot, 'relative');
    const [first] = await writeScenes(folder, 2, { firstSeed: 500 });
    await post('/img/drop');
    const rel = relative(process.cwd(), folder);
    expect(rel.startsWith('/')).toBe(false);
    const res = await post('/img/load', jsonRequest({ File: `./${rel}` }));
    expect(res.status).toBe(200);
    expect(await (await post('/img/count')).json()).toBe(2);
    // And /data finds a loaded file by a relative path, as the original's FileResponse did.
    const data = await s.app.request(
      `/data?image_path=${encodeURIComponent(`./${relative(process.cwd(), first!)}`)}`
    );
    expect(data.status).toBe(200);

    // Relative paths that lead outside the roots are refused like absolute ones.
    const outside = relative(process.cwd(), s.base);
    expect((await post('/img/load', jsonRequest({ File: outside }))).status).toBe(404);
    const escape = `${rel}/../../..`;
    expect((await post('/img/load', jsonRequest({ File: escape }))).status).toBe(404);
    expect(
      (await s.app.request(`/data?image_path=${encodeURIComponent('./package.json')}`)).status
    ).toBe(404);
  });

  it('keeps the last progress when a load is refused before it starts', async () => {
    const before = await progress();
    expect((await post('/img/load', jsonRequest({ File: join(s.base, 'nope') }))).status).toBe(404);
    expect(await progress()).toBe(before);
  });
});

describe('progressText', () => {
  const job = jobRecordSchema.parse({
    jobId: 'j',
    state: 'running',
    path: '/x',
    recursive: false,
    seen: 10,
    indexed: 3,
    unchanged: 2,
    skipped: 1,
    failed: 1,
    removed: 4,
    errors: [],
    createdAt: 0
  });

  it('counts every file dealt with as current, the folder count as total', () => {
    expect(progressText(job, 12)).toBe('current: 7, total: 12');
    expect(progressText(undefined)).toBe('current: 0, total: 0');
  });

  it('never reports current = total before the end, and always at the end', () => {
    expect(progressText({ ...job, seen: 12, indexed: 8 }, 12)).toBe('current: 11, total: 12');
    // More files than counted (added meanwhile): the total grows with them.
    expect(progressText({ ...job, seen: 15, indexed: 11 }, 12)).toBe('current: 14, total: 15');
    expect(
      progressText({ ...job, state: 'done' as const, seen: 9, total: 9, indexed: 5 }, 12)
    ).toBe('current: 9, total: 9');
    // A failed or cancelled load stops short, as the original's did.
    expect(progressText({ ...job, state: 'failed' as const }, 12)).toBe('current: 7, total: 12');
  });
});
