import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { l2FromCosine, progressText } from '../../server/http/routes/bootcamp';
import { jobRecordSchema } from '../../server/stores/job-store';
import { scene } from '../helpers/images';
import {
  errorOf,
  imageForm,
  jsonRequest,
  startTestServer,
  writeScenes,
  type TestServer
} from './helpers';

/**
 * The original bootcamp server's test suite (seed-reference §5), in its order, plus the
 * test_docker_compose assertions: the same requests must get the same answers.
 */

let s: TestServer;
let folder: string;
let testJpg: string;

beforeAll(async () => {
  s = await startTestServer();
  folder = join(s.imagesRoot, 'example_img');
  await writeScenes(folder, 19, { firstSeed: 1 });
  testJpg = join(folder, 'test.jpg');
  await writeFile(testJpg, await scene(96, 72, 100));
});

afterAll(() => s.close());

type Pair = [string, number];

/** The id in the later original's answer, `"Successfully loaded data: <id>"`. */
function idOf(answer: unknown): number {
  const match = /^Successfully loaded data: (\d+)$/.exec(String(answer));
  if (!match) throw new Error(`not the original's upload answer: ${JSON.stringify(answer)}`);
  return Number(match[1]);
}

const post = (path: string, init: RequestInit = {}) =>
  s.app.request(path, { method: 'POST', ...init });

describe('bootcamp-compatible API, as the original tests use it', () => {
  it('reports no progress before any load', async () => {
    const res = await s.app.request('/progress');
    expect(res.status).toBe(200);
    expect(await res.json()).toBe('current: 0, total: 0');
  });

  it('test_drop', async () => {
    const res = await post('/img/drop');
    expect(res.status).toBe(200);
    expect(await res.json()).toBe('ok');
  });

  it('test_load_img', async () => {
    const res = await post('/img/load', jsonRequest({ File: folder }));
    expect(res.status).toBe(200);
    expect(await res.json()).toBe('Successfully loaded data!');
  });

  it('test_progress', async () => {
    const res = await s.app.request('/progress');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).toBe('"current: 20, total: 20"');
  });

  it('test_count', async () => {
    const res = await post('/img/count');
    expect(res.status).toBe(200);
    expect(await res.json()).toBe(20);
  });

  it('test_get_img (with the parameter name the server reads)', async () => {
    const res = await s.app.request(`/data?image_path=${encodeURIComponent(testJpg)}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(await readFile(testJpg))).toBe(true);
  });

  it('test_upload_img', async () => {
    const res = await post('/img/upload', {
      body: imageForm(await readFile(testJpg), {}, 'test.jpg')
    });
    expect(res.status).toBe(200);
    const id = idOf(await res.json());
    // The same picture as the folder's test.jpg: the upload is another path to it.
    const record = await s.runtime.collection.getPath(testJpg);
    expect(id).toBe(record!.imageId);
    expect(await (await post('/img/count')).json()).toBe(20);
  });

  it('test_search', async () => {
    const res = await post('/img/search', {
      body: imageForm(await readFile(testJpg), {}, 'test.jpg')
    });
    expect(res.status).toBe(200);
    const pairs = (await res.json()) as Pair[];
    expect(pairs).toHaveLength(10); // TOP_K
    for (const pair of pairs) {
      expect(pair).toHaveLength(2);
      expect(typeof pair[0]).toBe('string');
      expect(pair[1]).toBeGreaterThanOrEqual(0);
      expect(pair[1]).toBeLessThanOrEqual(2);
    }
    const distances = pairs.map((p) => p[1]);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
    const [first, second] = pairs;
    // Its own copy: the folder's file or the saved upload (same content, same picture).
    const hash = createHash('sha256')
      .update(await readFile(testJpg))
      .digest('hex');
    expect([testJpg, join(s.dataDir, 'uploads', `${hash}.jpg`)]).toContain(first![0]);
    expect(first![1]).toBeLessThan(1e-3);
    expect(second![1]).toBeGreaterThan(first![1]);
  });
});

describe('bootcamp-compatible API, details', () => {
  it("honours the topk form field; the original's default table is the default collection", async () => {
    const res = await post('/img/search?table_name=milvus_img_search', {
      body: imageForm(await readFile(testJpg), { topk: '3' })
    });
    expect(res.status).toBe(200);
    expect((await res.json()) as Pair[]).toHaveLength(3);
    expect(await (await post('/img/count?table_name=milvus_img_search')).json()).toBe(20);
    expect(await (await post('/img/count?table_name=')).json()).toBe(20);
    // Another table is another collection: none of that name yet, so null, as the original.
    expect(await (await post('/img/count?table_name=whatever')).json()).toBeNull();
  });

  it("loads with the original's default Table into the default collection", async () => {
    const res = await post('/img/load', jsonRequest({ File: folder, Table: 'milvus_img_search' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toBe('Successfully loaded data!');
    // Nothing new: every file unchanged, still all counted as processed.
    expect(await (await s.app.request('/progress')).json()).toBe('current: 20, total: 20');
    expect(s.runtime.jobs.latest).toMatchObject({ unchanged: 20, indexed: 0 });
  });

  it('saves a new upload under the data dir, indexes it and serves it from /data', async () => {
    const bytes = await scene(80, 60, 4242);
    const res = await post('/img/upload', { body: imageForm(bytes, {}, 'new.jpg') });
    expect(res.status).toBe(200);
    const id = idOf(await res.json());
    expect(await (await post('/img/count')).json()).toBe(21);

    const hash = createHash('sha256').update(bytes).digest('hex');
    const saved = join(s.dataDir, 'uploads', `${hash}.jpg`);
    expect((await stat(saved)).size).toBe(bytes.length);
    expect((await s.runtime.collection.getImage(id))!.paths).toContain(saved);

    const search = await post('/img/search', { body: imageForm(bytes) });
    const [first] = (await search.json()) as Pair[];
    expect(first![0]).toBe(saved);
    expect(first![1]).toBeLessThan(1e-3);
    const data = await s.app.request(`/data?image_path=${encodeURIComponent(saved)}`);
    expect(data.status).toBe(200);

    // The same upload again is the same picture.
    const again = await post('/img/upload', { body: imageForm(bytes, {}, 'other-name.jpg') });
    expect(await again.json()).toBe(`Successfully loaded data: ${id}`);
    expect(await (await post('/img/count')).json()).toBe(21);
  });

  it('refuses uploads that are not images, and saves nothing', async () => {
    for (const path of ['/img/upload', '/img/search']) {
      const res = await post(path, { body: imageForm(new TextEncoder().encode('%PDF-1.4 nope')) });
      expect(res.status, path).toBe(400);
      expect((await errorOf(res)).error.code).toBe('invalid_image');
      const empty = await post(path, { body: new FormData() });
      expect(empty.status, path).toBe(400);
      expect((await errorOf(empty)).error.code).toBe('invalid_request');
    }
    expect(await (await post('/img/count')).json()).toBe(21);
  });

  it('applies the path rules of /api/index to /img/load', async () => {
    const outside = await post('/img/load', jsonRequest({ File: '/etc' }));
    expect(outside.status).toBe(404);
    expect((await errorOf(outside)).error.code).toBe('not_found');
    const missing = await post('/img/load', jsonRequest({ File: join(folder, 'nope') }));
    expect(missing.status).toBe(404);
    const invalid = await post('/img/load', jsonRequest({ file: folder }));
    expect(invalid.status).toBe(400);
  });

  it('drops the default collection: emptied, as it always exists', async () => {
    expect(await (await post('/img/drop')).json()).toBe('ok');
    expect(await (await post('/img/count')).json()).toBe(0);
    const res = await post('/img/search', { body: imageForm(await readFile(testJpg)) });
    expect(await res.json()).toEqual([]);
  });
});

describe('bootcamp helpers', () => {
  it('counts every file dealt with as current, every file seen as total', () => {
    const job = jobRecordSchema.parse({
      jobId: 'j',
      state: 'running',
      path: '/x',
      recursive: true,
      seen: 10,
      indexed: 3,
      unchanged: 2,
      skipped: 1,
      failed: 1,
      removed: 4,
      errors: [],
      createdAt: 0
    });
    expect(progressText(job)).toBe('current: 7, total: 10');
    expect(progressText(undefined)).toBe('current: 0, total: 0');
  });

  it('turns cosine similarity into the L2 distance of unit vectors', () => {
    expect(l2FromCosine(1)).toBe(0);
    expect(l2FromCosine(1.0000001)).toBe(0); // rounding never gives NaN
    expect(l2FromCosine(0)).toBeCloseTo(Math.SQRT2, 12);
    expect(l2FromCosine(-1)).toBe(2);
  });
});
