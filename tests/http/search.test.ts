import { createHash } from 'node:crypto';
import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqlCatalog } from '../../server/stores/sql/sql-catalog';
import type { SearchResponse } from '../../src/lib/api/types';
import { scene } from '../helpers/images';
import {
  errorOf,
  imageForm,
  indexAndWait,
  jsonRequest,
  startTestServer,
  writeScenes,
  type TestServer
} from './helpers';

/** The API's answer, as the web app reads it. */
type SearchBody = SearchResponse;

let s: TestServer;
let paths: string[];

beforeAll(async () => {
  s = await startTestServer();
  paths = await writeScenes(join(s.imagesRoot, 'set'), 12, { width: 120, height: 80 });
  const job = await indexAndWait(s.app, s.imagesRoot);
  expect(job).toMatchObject({ state: 'done', indexed: 12 });
});

afterAll(() => s.close());

const search = (body: unknown) => s.app.request('/api/search', jsonRequest(body));

describe('POST /api/search', () => {
  it('finds each picture first from its own vector, score ≈ 1', async () => {
    for (const path of paths) {
      const vector = Array.from(await s.runtime.embedder.embedOne(path));
      const res = await search({ vector, topK: 5 });
      expect(res.status).toBe(200);
      const body = (await res.json()) as SearchBody;
      expect(body.results).toHaveLength(5);
      const [best, second] = body.results;
      expect(best!.path).toBe(path);
      expect(best!.score).toBeCloseTo(1, 4);
      expect(second!.score).toBeLessThan(best!.score);
      expect(best).toEqual({
        id: best!.id,
        path,
        paths: [path],
        score: best!.score,
        width: 120,
        height: 80,
        contentHash: createHash('sha256')
          .update(await readFile(path))
          .digest('hex'),
        dhash: expect.stringMatching(/^[0-9a-f]{16}$/),
        imageUrl: `/api/images/${best!.id}`,
        thumbUrl: `/api/images/${best!.id}/thumb`
      });
      expect(body.tookMs).toBeGreaterThanOrEqual(0);
      const scores = body.results.map((r) => r.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    }
  });

  it('lists every path of a picture stored more than once, sorted, the first as `path`', async () => {
    // Identical files are one picture: copies under other names join the original's entry.
    const original = paths[3]!;
    const copies = [join(s.imagesRoot, 'a-copy.jpg'), join(s.imagesRoot, 'set', 'zz-copy.jpg')];
    for (const copy of copies) await copyFile(original, copy);
    const job = await indexAndWait(s.app, s.imagesRoot);
    expect(job).toMatchObject({ state: 'done', indexed: 2 });
    try {
      const vector = Array.from(await s.runtime.embedder.embedOne(original));
      const body = (await (await search({ vector, topK: 12 })).json()) as SearchBody;
      expect(body.results).toHaveLength(12);
      const best = body.results[0]!;
      const all = [original, ...copies].sort((a, b) =>
        Buffer.compare(Buffer.from(a), Buffer.from(b))
      );
      expect(best.paths).toEqual(all);
      expect(best.path).toBe(all[0]);
      // Every other hit lists its own single file.
      for (const hit of body.results.slice(1)) expect(hit.paths).toEqual([hit.path]);
    } finally {
      await Promise.all(copies.map((copy) => rm(copy)));
      await indexAndWait(s.app, s.imagesRoot);
    }
  });

  it('reads every hit and its paths in one batch, not one query per hit', async () => {
    const reads = {
      images: vi.spyOn(SqlCatalog.prototype, 'getImages'),
      path: vi.spyOn(SqlCatalog.prototype, 'getPath'),
      paths: vi.spyOn(SqlCatalog.prototype, 'getPaths')
    };
    try {
      const vector = Array.from(await s.runtime.embedder.embedOne(paths[5]!));
      const body = (await (await search({ vector, topK: 12 })).json()) as SearchBody;
      expect(body.results).toHaveLength(12);
      expect(reads.images).toHaveBeenCalledTimes(1);
      expect(reads.images.mock.calls[0]![0]).toHaveLength(12);
      expect(reads.path).not.toHaveBeenCalled();
      expect(reads.paths).not.toHaveBeenCalled();
    } finally {
      for (const spy of Object.values(reads)) spy.mockRestore();
    }
  });

  it('defaults topK to 10 and caps it at the collection size', async () => {
    const vector = Array.from(await s.runtime.embedder.embedOne(paths[0]!));
    const byDefault = (await (await search({ vector })).json()) as SearchBody;
    expect(byDefault.results).toHaveLength(10);
    const all = (await (await search({ vector, topK: 100 })).json()) as SearchBody;
    expect(all.results).toHaveLength(12);
    expect(new Set(all.results.map((r) => r.id)).size).toBe(12);
  });

  it('refuses bad vectors and topK with 400 in the error shape', async () => {
    const good = Array.from(await s.runtime.embedder.embedOne(paths[0]!));
    const cases: [string, unknown][] = [
      ['too short', { vector: good.slice(1) }],
      ['too long', { vector: [...good, 0.5] }],
      ['empty', { vector: [] }],
      ['all zeros', { vector: good.map(() => 0) }],
      ['a string inside', { vector: good.map((v, i) => (i === 3 ? 'NaN' : v)) }],
      ['a null inside', { vector: good.map((v, i) => (i === 7 ? null : v)) }],
      ['not an array', { vector: 'nope' }],
      ['missing', { topK: 3 }],
      ['topK 0', { vector: good, topK: 0 }],
      ['topK 101', { vector: good, topK: 101 }],
      ['topK 2.5', { vector: good, topK: 2.5 }]
    ];
    for (const [label, body] of cases) {
      const res = await search(body);
      expect(res.status, label).toBe(400);
      const { error } = await errorOf(res);
      expect(error.code, label).toBe('invalid_request');
    }
    // JSON has no NaN, but 1e999 parses to Infinity.
    const infinite = `{"vector":[${good.map((v, i) => (i === 0 ? '1e999' : String(v))).join(',')}]}`;
    const res = await search(infinite);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).error.code).toBe('invalid_request');
    const short = await search({ vector: good.slice(2) });
    expect((await errorOf(short)).error.message).toMatch(/126 values.*128/);
  });

  it('refuses a body that is not JSON', async () => {
    const res = await s.app.request('/api/search', { method: 'POST', body: 'vector=1' });
    expect([400, 415]).toContain(res.status);
    await errorOf(res);
  });
});

describe('POST /api/search/image', () => {
  it('encodes the upload on the server and finds the same picture first', async () => {
    const bytes = await readFile(paths[4]!);
    const res = await s.app.request('/api/search/image', {
      method: 'POST',
      body: imageForm(bytes, { topK: '3' })
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as SearchBody;
    expect(body.results).toHaveLength(3);
    expect(body.results[0]!.path).toBe(paths[4]);
    expect(body.results[0]!.score).toBeCloseTo(1, 4);
  });

  it('finds a re-encoded copy (PNG of the same scene) first too', async () => {
    const png = await scene(120, 80, 6, 'png'); // seed 6 is img-05
    const res = await s.app.request('/api/search/image', {
      method: 'POST',
      body: imageForm(png)
    });
    const body = (await res.json()) as SearchBody;
    expect(body.results).toHaveLength(10);
    expect(body.results[0]!.path).toBe(paths[5]);
  });

  it('refuses a file that is not an image with a clear 400', async () => {
    const res = await s.app.request('/api/search/image', {
      method: 'POST',
      body: imageForm(new TextEncoder().encode('just some text, not a picture'))
    });
    expect(res.status).toBe(400);
    const { error } = await errorOf(res);
    expect(error.code).toBe('invalid_image');
    expect(error.message).toMatch(/not an image/i);
  });

  it('refuses a form without the image, or with a bad topK', async () => {
    const noImage = new FormData();
    noImage.append('topK', '3');
    const cases: [string, FormData][] = [
      ['no image', noImage],
      ['bad topK', imageForm(await readFile(paths[0]!), { topK: '1000' })]
    ];
    for (const [label, form] of cases) {
      const res = await s.app.request('/api/search/image', { method: 'POST', body: form });
      expect(res.status, label).toBe(400);
      expect((await errorOf(res)).error.code, label).toBe('invalid_request');
    }
  });
});

describe('encode limiter', () => {
  it('answers 503 with Retry-After when encodes are saturated', async () => {
    const t = await startTestServer({
      LOOKALIKE_ENCODE_CONCURRENCY: '1',
      LOOKALIKE_ENCODE_QUEUE: '0'
    });
    try {
      // Hold the one encode slot until every request has arrived.
      const embedder = t.runtime.embedder;
      const original = embedder.embedOne.bind(embedder);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered = 0;
      embedder.embedOne = async (input) => {
        entered++;
        await gate;
        return original(input);
      };
      const bytes = await scene(200, 150, 77);
      const post = () =>
        t.app.request('/api/search/image', { method: 'POST', body: imageForm(bytes) });
      const first = post();
      while (entered === 0) await new Promise((r) => setTimeout(r, 5));
      // The slot is taken and nobody may wait: the concurrent requests are refused at once.
      const others = await Promise.all([post(), post(), post()]);
      for (const res of others) {
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
        const { error } = await errorOf(res);
        expect(error.code).toBe('busy');
      }
      release();
      const held = await first;
      expect(held.status).toBe(200);
      expect(((await held.json()) as SearchBody).results).toEqual([]); // nothing indexed here
      expect(entered).toBe(1);
      // Once the slot is free, the next request goes through.
      const later = await t.app.request('/api/search/image', {
        method: 'POST',
        body: imageForm(bytes)
      });
      expect(later.status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
