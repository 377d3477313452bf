import { copyFile, mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TooManyRequestsError } from '../../server/errors';
import { SharedScans } from '../../server/http/routes/duplicates';
import { keepBest } from '../../server/services/duplicates';
import type { DuplicatesResponse } from '../../server/http/schemas';
import { findDuplicates } from '../../server/services/duplicates';
import { scene } from '../helpers/images';
import { errorOf, indexAndWait, jsonRequest, startTestServer, type TestServer } from './helpers';

/**
 * GET /api/duplicates on real files indexed with the tiny model: identical files, a picture in
 * three encodings, distinct scenes.
 */

let s: TestServer;
const f = {} as Record<'a' | 'copyOfA' | 'b' | 'bSmall' | 'bWebp' | 'c' | 'd', string>;

beforeAll(async () => {
  s = await startTestServer();
  const root = s.imagesRoot;
  await mkdir(join(root, 'nested'), { recursive: true });
  Object.assign(f, {
    a: join(root, 'a.jpg'),
    copyOfA: join(root, 'nested', 'copy-of-a.jpg'),
    b: join(root, 'b.png'),
    bSmall: join(root, 'nested', 'b-small.jpg'),
    bWebp: join(root, 'b.webp'),
    c: join(root, 'c.jpg'),
    d: join(root, 'd.jpg')
  });
  await writeFile(f.a, await scene(320, 240, 1));
  await copyFile(f.a, f.copyOfA);
  // The copy is the older file: the suggestion keeps it although its path is longer.
  await utimes(f.copyOfA, new Date('2020-01-01'), new Date('2020-01-01'));
  await writeFile(f.b, await scene(320, 240, 2, 'png'));
  const b = await readFile(f.b);
  await writeFile(f.bSmall, await sharp(b).resize(160, 120).jpeg({ quality: 75 }).toBuffer());
  await writeFile(f.bWebp, await sharp(b).webp({ quality: 80 }).toBuffer());
  await writeFile(f.c, await scene(240, 320, 3));
  await writeFile(f.d, await scene(300, 300, 4));
  const job = await indexAndWait(s.app, root);
  expect(job.state).toBe('done');
}, 60_000);
afterAll(() => s.close());

const get = async (query = '') => {
  const res = await s.app.request(`/api/duplicates${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as DuplicatesResponse;
};

describe('GET /api/duplicates', () => {
  it('answers the explained groups with each member’s facts and a picture to keep', async () => {
    const body = await get();
    // The tiny model has no measured bands: the fixed fallback, said so.
    expect(body).toMatchObject({
      model: 'tiny',
      threshold: 0.9,
      thresholdMeasured: false,
      hammingMax: 8,
      neighbours: 10
    });
    const paths = body.groups.map((g) => [g.reason, g.members.flatMap((m) => m.paths).sort()]);
    expect(paths).toEqual([
      ['same-bytes', [f.a, f.copyOfA].sort()],
      ['same-picture', [f.b, f.bSmall, f.bWebp].sort()]
    ]);
    const [bytes, picture] = body.groups;
    expect(bytes!.explanation).toMatch(/2 identical files/);
    expect(bytes!.keep).toEqual({
      id: bytes!.members[0]!.id,
      path: f.copyOfA,
      why: 'the oldest file'
    });
    expect(bytes!.members[0]).toMatchObject({ width: 320, height: 240, format: 'jpeg' });
    expect(bytes!.members[0]!.score).toBeUndefined();
    // Each file's date, for the page to show beside it.
    expect(bytes!.members[0]!.modified).toEqual({
      [f.copyOfA]: new Date('2020-01-01').getTime(),
      [f.a]: (await stat(f.a)).mtimeMs
    });

    const byPath = (path: string) => picture!.members.find((m) => m.paths.includes(path))!;
    expect(byPath(f.b)).toMatchObject({ width: 320, height: 240, format: 'png' });
    expect(byPath(f.bSmall)).toMatchObject({ width: 160, height: 120, format: 'jpeg' });
    expect(byPath(f.bWebp)).toMatchObject({ width: 320, height: 240, format: 'webp' });
    expect(byPath(f.b).bytes).toBe((await readFile(f.b)).length);
    for (const m of picture!.members) expect(m.score).toBeGreaterThanOrEqual(0.9);
    // As many pixels as the WebP: the PNG wins on its format.
    expect(picture!.keep).toEqual({
      id: byPath(f.b).id,
      path: f.b,
      why: 'the same pixels in a better format (PNG over WEBP)'
    });

    // The URLs serve the pictures.
    const member = byPath(f.bSmall);
    expect(member.imageUrl).toBe(`/api/images/${member.id}`);
    const original = await s.app.request(member.imageUrl);
    expect(Buffer.from(await original.arrayBuffer())).toEqual(await readFile(f.bSmall));
    const thumb = await s.app.request(member.thumbUrl);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
  });

  it('is the service’s answer, with its parameters', async () => {
    const body = await get('?threshold=0&hammingMax=3&neighbours=2');
    expect(body).toMatchObject({ threshold: 0, thresholdMeasured: true, hammingMax: 3 });
    const direct = await findDuplicates(s.runtime.collection, {
      threshold: 0,
      hammingMax: 3,
      neighbours: 2
    });
    expect(
      body.groups.map(({ reason, explanation, members }) => ({
        reason,
        explanation,
        members: members.map((m) => ({ id: m.id, paths: m.paths, score: m.score }))
      }))
    ).toEqual(
      direct.map(({ reason, explanation, members }) => ({
        reason,
        explanation,
        members: members.map((m) => ({ id: m.id, paths: m.paths, score: m.score }))
      }))
    );
    // Everything is one scene at threshold 0.
    expect(body.groups.some((g) => g.reason === 'similar-scene')).toBe(true);
  });

  it('is collection-scoped, and validates its parameters', async () => {
    const missing = await s.app.request('/api/duplicates?collection=nope');
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).error.code).toBe('collection_not_found');

    const create = await s.app.request('/api/collections', jsonRequest({ name: 'empty' }));
    expect(create.status).toBe(201);
    const empty = await get('?collection=empty');
    expect(empty.groups).toEqual([]);

    for (const query of ['threshold=1.5', 'threshold=x', 'hammingMax=65', 'neighbours=0']) {
      const res = await s.app.request(`/api/duplicates?${query}`);
      expect(res.status, query).toBe(400);
      expect((await errorOf(res)).error.code).toBe('invalid_request');
    }
  });

  it('deletes nothing', async () => {
    await get('?threshold=0');
    for (const path of Object.values(f)) await expect(readFile(path)).resolves.toBeTruthy();
    const count = (await (await s.app.request('/api/images/count')).json()) as { count: number };
    expect(count.count).toBe(6);
  });
});

describe('keepBest', () => {
  const member = (id: number, width: number, format: string, bytes: number, path: string) => ({
    id,
    width,
    height: width,
    format,
    bytes,
    paths: [path]
  });
  const ages = new Map([
    ['/old.jpg', 1],
    ['/new.jpg', 2]
  ]);

  it('ranks pixels, then format, then bytes, then age, then path length', () => {
    expect(keepBest([member(1, 10, 'png', 9, '/x'), member(2, 20, 'webp', 1, '/y')], ages)).toEqual(
      { id: 2, path: '/y', why: 'the most pixels (20×20)' }
    );
    expect(
      keepBest([member(1, 20, 'jpeg', 9, '/x'), member(2, 20, 'tiff', 1, '/y')], ages).id
    ).toBe(2);
    expect(
      keepBest([member(1, 20, 'jpeg', 5, '/x'), member(2, 20, 'jpeg', 9, '/y')], ages)
    ).toEqual({ id: 2, path: '/y', why: 'the most bytes' });
    expect(
      keepBest([member(1, 20, 'jpeg', 9, '/new.jpg'), member(2, 20, 'jpeg', 9, '/old.jpg')], ages)
    ).toEqual({ id: 2, path: '/old.jpg', why: 'the oldest file' });
    expect(
      keepBest([member(1, 20, 'jpeg', 9, '/longer'), member(2, 20, 'jpeg', 9, '/short')], ages)
    ).toEqual({ id: 2, path: '/short', why: 'the shortest path' });
    expect(
      keepBest([member(2, 20, 'jpeg', 9, '/a'), member(1, 20, 'jpeg', 9, '/b')], ages)
    ).toEqual({ id: 1, path: '/b', why: 'the first indexed' });
  });
});

describe('SharedScans', () => {
  it('shares a running search between identical requests and bounds different ones', async () => {
    const scans = new SharedScans<string>(2);
    const finish: ((value: string) => void)[] = [];
    let started = 0;
    const scan = () => {
      started++;
      return new Promise<string>((resolve) => finish.push(resolve));
    };
    const first = scans.run('a', scan);
    const again = scans.run('a', scan);
    const other = scans.run('b', scan);
    expect(started).toBe(2);
    expect(() => scans.run('c', scan)).toThrow(TooManyRequestsError);
    finish[0]!('A');
    expect(await first).toBe('A');
    expect(await again).toBe('A');
    // A finished search makes room.
    const third = scans.run('c', scan);
    expect(() => scans.run('d', scan)).toThrow(TooManyRequestsError);
    finish[1]!('B');
    finish[2]!('C');
    expect([await other, await third]).toEqual(['B', 'C']);
    // The same key starts afresh once its search is done.
    expect(await scans.run('a', () => Promise.resolve('A2'))).toBe('A2');
  });
});
