import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFile,
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { createApp } from '../../server/http/app';
import { createRuntime } from '../../server/runtime';
import { scene } from '../helpers/images';
import { TEST_MODEL_CACHE } from '../helpers/models';
import {
  errorOf,
  indexAndWait,
  jsonRequest,
  listen,
  startTestServer,
  writeScenes,
  type TestServer
} from './helpers';

let s: TestServer;
let server: Awaited<ReturnType<typeof listen>>;
/** Image id by file name, from the catalog. */
const ids = new Map<string, number>();
let jpegPath: string;
let pngPath: string;
let rotatedPath: string;
let bigPath: string;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function idOf(path: string): Promise<number> {
  const record = await s.runtime.collection.getPath(path);
  if (!record) throw new Error(`${path} is not indexed`);
  return record.imageId;
}

beforeAll(async () => {
  s = await startTestServer();
  server = await listen(s.app);
  const dir = join(s.imagesRoot, 'pics');
  jpegPath = (await writeScenes(dir, 3, { width: 100, height: 80 }))[0]!;
  pngPath = join(dir, 'flat.png');
  await writeFile(pngPath, await scene(90, 60, 42, 'png'));
  // 640×400 stored, shown as 400×640 once EXIF orientation 6 (90° clockwise) is applied.
  rotatedPath = join(dir, 'rotated.jpg');
  await writeFile(
    rotatedPath,
    await sharp(await scene(640, 400, 43))
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer()
  );
  bigPath = join(dir, 'big.jpg');
  await writeFile(bigPath, await scene(900, 500, 44));
  const job = await indexAndWait(s.app, dir);
  expect(job).toMatchObject({ state: 'done', indexed: 6, failed: 0 });
  for (const path of [jpegPath, pngPath, rotatedPath, bigPath]) ids.set(path, await idOf(path));
});

afterAll(async () => {
  await server.close();
  await s.close();
});

describe('GET /api/images/count', () => {
  it('counts distinct pictures', async () => {
    const res = await s.app.request('/api/images/count');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ count: 6 });
  });
});

describe('GET /api/images/:id', () => {
  it('sends the original bytes with their type, a strong ETag and caching headers', async () => {
    for (const [path, type] of [
      [jpegPath, 'image/jpeg'],
      [pngPath, 'image/png']
    ] as const) {
      const res = await s.app.request(`/api/images/${ids.get(path)}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const onDisk = await readFile(path);
      expect(Buffer.from(bytes).equals(onDisk)).toBe(true);
      expect(res.headers.get('etag')).toBe(`"${sha256(onDisk)}"`);
      expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
      expect(res.headers.get('content-length')).toBe(String(onDisk.length));
      expect(res.headers.get('accept-ranges')).toBe('bytes');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const url = `/api/images/${ids.get(jpegPath)}`;
    const etag = (await s.app.request(url)).headers.get('etag')!;
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await s.app.request(url, { headers: { 'If-None-Match': header } });
      expect(res.status, header).toBe(304);
      expect(res.headers.get('etag')).toBe(etag);
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    }
    const stale = await s.app.request(url, { headers: { 'If-None-Match': '"something-else"' } });
    expect(stale.status).toBe(200);
  });

  it('serves byte ranges over real HTTP (206) and refuses bad ones (416)', async () => {
    const url = `${server.url}/api/images/${ids.get(bigPath)}`;
    const whole = await readFile(bigPath);
    const size = whole.length;
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=100-', 100, size - 1],
      ['bytes=-50', size - 50, size - 1],
      [`bytes=10-${size + 1000}`, 10, size - 1]
    ];
    for (const [range, start, end] of cases) {
      const res = await fetch(url, { headers: { Range: range } });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(res.headers.get('content-length')).toBe(String(end - start + 1));
      const part = Buffer.from(await res.arrayBuffer());
      expect(part.equals(whole.subarray(start, end + 1)), range).toBe(true);
    }
    for (const range of [
      `bytes=${size}-`,
      `bytes=${size + 5}-${size + 10}`,
      'bytes=50-10',
      'bytes=-0',
      'bytes=x-y'
    ]) {
      const res = await fetch(url, { headers: { Range: range } });
      expect(res.status, range).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${size}`);
      expect((await errorOf(res)).error.code).toBe('range_not_satisfiable');
    }
    // A stale If-Range means "send everything".
    const stale = await fetch(url, { headers: { Range: 'bytes=0-9', 'If-Range': '"old"' } });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBe(size);
    const etag = stale.headers.get('etag')!;
    const fresh = await fetch(url, { headers: { Range: 'bytes=0-9', 'If-Range': etag } });
    expect(fresh.status).toBe(206);
    expect((await fresh.arrayBuffer()).byteLength).toBe(10);
  });

  it('answers HEAD with the headers only', async () => {
    const res = await fetch(`${server.url}/api/images/${ids.get(jpegPath)}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String((await stat(jpegPath)).size));
    expect(res.headers.get('content-type')).toBe('image/jpeg');
  });

  it('looks images up by numeric id only', async () => {
    for (const id of [
      'abc',
      '1.5',
      '-1',
      '0',
      '1e3',
      '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '..%2f..%2fetc'
    ]) {
      const res = await s.app.request(`/api/images/${id}`);
      expect([400, 404], id).toContain(res.status);
      await errorOf(res);
    }
    const missing = await s.app.request('/api/images/999999');
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).error.code).toBe('not_found');
  });
});

describe('GET /api/images/:id/thumb', () => {
  const thumbOf = async (path: string) => {
    const res = await s.app.request(`/api/images/${ids.get(path)}/thumb`);
    expect(res.status).toBe(200);
    return { res, bytes: Buffer.from(await res.arrayBuffer()) };
  };

  it('is a WebP at most 320 px on the long side, cached by content hash', async () => {
    const { res, bytes } = await thumbOf(bigPath);
    expect(res.headers.get('content-type')).toBe('image/webp');
    expect(res.headers.get('cache-control')).toMatch(/immutable/);
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{64}-t320"$/);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('webp');
    expect([meta.width, meta.height]).toEqual([320, 178]);

    const hash = sha256(await readFile(bigPath));
    const cached = join(s.dataDir, 'thumbs', `${hash}.webp`);
    expect(Buffer.from(await readFile(cached)).equals(bytes)).toBe(true);
    // Backdate it: a regeneration would give it a new mtime.
    const past = new Date(Date.now() - 3_600_000);
    await utimes(cached, past, past);
    const before = (await stat(cached)).mtimeMs;
    const again = await thumbOf(bigPath);
    expect(again.bytes.equals(bytes)).toBe(true);
    expect((await stat(cached)).mtimeMs).toBe(before);

    const notModified = await s.app.request(`/api/images/${ids.get(bigPath)}/thumb`, {
      headers: { 'If-None-Match': res.headers.get('etag')! }
    });
    expect(notModified.status).toBe(304);
  });

  it('applies EXIF orientation and never enlarges', async () => {
    const rotated = await sharp((await thumbOf(rotatedPath)).bytes).metadata();
    expect([rotated.width, rotated.height]).toEqual([200, 320]);
    const small = await sharp((await thumbOf(jpegPath)).bytes).metadata();
    expect([small.width, small.height]).toEqual([100, 80]);
  });

  it('gives concurrent requests the same thumbnail and leaves no temporary files', async () => {
    const path = pngPath;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => s.app.request(`/api/images/${ids.get(path)}/thumb`))
    );
    const bodies = await Promise.all(results.map(async (r) => Buffer.from(await r.arrayBuffer())));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    for (const body of bodies) expect(body.equals(bodies[0]!)).toBe(true);
    const files = await readdir(join(s.dataDir, 'thumbs'));
    expect(files.filter((f) => !/^[0-9a-f]{64}\.webp$/.test(f))).toEqual([]);
  });
});

describe('files that changed or vanished', () => {
  it('falls back to a weak ETag when the file changed, and 404 when it is gone', async () => {
    const dir = join(s.imagesRoot, 'volatile');
    const [path] = await writeScenes(dir, 1, { firstSeed: 700 });
    await indexAndWait(s.app, dir);
    const id = await idOf(path!);
    const strong = await s.app.request(`/api/images/${id}`);
    expect(strong.headers.get('etag')).toMatch(/^"[0-9a-f]{64}"$/);

    await writeFile(path!, await scene(100, 80, 701)); // changed, not re-indexed
    const weak = await s.app.request(`/api/images/${id}`);
    expect(weak.status).toBe(200);
    expect(weak.headers.get('etag')).toMatch(/^W\//);
    // No thumbnail from changed content.
    const thumb = await s.app.request(`/api/images/${id}/thumb`);
    expect(thumb.status).toBe(404);

    await rm(path!);
    const gone = await s.app.request(`/api/images/${id}`);
    expect(gone.status).toBe(404);
    expect((await errorOf(gone)).error.code).toBe('not_found');
  });
});

/** The three ways a file is read over HTTP: original, thumbnail, bootcamp-compatible `/data`. */
async function readsOf(app: TestServer['app'], id: number, path: string) {
  const requests = {
    original: `/api/images/${id}`,
    thumb: `/api/images/${id}/thumb`,
    data: `/data?image_path=${encodeURIComponent(path)}`
  };
  const answers: Record<string, { status: number; body: Buffer }> = {};
  for (const [name, url] of Object.entries(requests)) {
    const res = await app.request(url);
    answers[name] = { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  }
  return answers as Record<keyof typeof requests, { status: number; body: Buffer }>;
}

const allNotFound = { original: 404, thumb: 404, data: 404 };
const statuses = (answers: Record<string, { status: number }>) =>
  Object.fromEntries(Object.entries(answers).map(([name, a]) => [name, a.status]));

describe('files swapped for links out of the root after indexing', () => {
  let outside: string;

  beforeAll(async () => {
    outside = join(s.base, 'outside');
    await mkdir(outside, { recursive: true });
  });

  it('does not serve the outside file a link now points to', async () => {
    const dir = join(s.imagesRoot, 'swapped');
    const [path] = await writeScenes(dir, 1, { firstSeed: 710 });
    await indexAndWait(s.app, dir);
    const id = await idOf(path!);
    const secret = join(outside, 'secret.txt');
    await writeFile(secret, 'the secret bytes');
    await rm(path!);
    await symlink(secret, path!);

    const answers = await readsOf(s.app, id, path!);
    expect(statuses(answers)).toEqual(allNotFound);
    for (const { body } of Object.values(answers)) {
      expect(body.toString()).not.toContain('the secret bytes');
    }
  });

  it('makes no thumbnail from outside the root, even of the very same content', async () => {
    const dir = join(s.imagesRoot, 'swapped-copy');
    const [path] = await writeScenes(dir, 1, { firstSeed: 720 });
    await indexAndWait(s.app, dir);
    const id = await idOf(path!);
    const copy = join(outside, 'copy.jpg');
    await copyFile(path!, copy);
    await rm(path!);
    await symlink(copy, path!);
    expect(statuses(await readsOf(s.app, id, path!))).toEqual(allNotFound);
  });

  it('does not follow a folder swapped for a link to an outside folder', async () => {
    const dir = join(s.imagesRoot, 'album');
    const [path] = await writeScenes(dir, 1, { firstSeed: 730 });
    await indexAndWait(s.app, dir);
    const id = await idOf(path!);
    // A cached thumbnail is not shown either once no file of the picture may be read.
    expect((await s.app.request(`/api/images/${id}/thumb`)).status).toBe(200);
    const elsewhere = join(outside, 'album');
    await writeScenes(elsewhere, 1, { firstSeed: 730 }); // same name, same content
    await writeFile(join(elsewhere, 'img-00.jpg'), 'the secret bytes', { flag: 'a' });
    await rm(dir, { recursive: true });
    await symlink(elsewhere, dir);
    const answers = await readsOf(s.app, id, path!);
    expect(statuses(answers)).toEqual(allNotFound);
  });

  it('answers 404 at once for a file swapped for a FIFO (opening one would wait for a writer)', async () => {
    const dir = join(s.imagesRoot, 'fifo');
    const [path] = await writeScenes(dir, 1, { firstSeed: 780 });
    await indexAndWait(s.app, dir);
    const id = await idOf(path!);
    await rm(path!);
    execFileSync('mkfifo', [path!]);
    expect(statuses(await readsOf(s.app, id, path!))).toEqual(allNotFound);
  });

  it('serves a hard link inside the root, as any file there (the owner put it there)', async () => {
    const original = join(outside, 'linked.jpg');
    await writeFile(original, await scene(100, 80, 740));
    const dir = join(s.imagesRoot, 'hard');
    await mkdir(dir);
    const path = join(dir, 'linked.jpg');
    await link(original, path);
    await indexAndWait(s.app, dir);
    const answers = await readsOf(s.app, await idOf(path), path);
    expect(statuses(answers)).toEqual({ original: 200, thumb: 200, data: 200 });
    expect(answers.original.body.equals(await readFile(original))).toBe(true);
  });
});

describe('a root removed from LOOKALIKE_IMAGE_ROOTS', () => {
  it('is no longer read after a restart, though its pictures stay in the catalog', async () => {
    const base = await mkdtemp(join(tmpdir(), 'lookalike-roots-'));
    const kept = join(base, 'kept');
    const dropped = join(base, 'dropped');
    const dataDir = join(base, 'data');
    const [keptPath] = await writeScenes(kept, 1, { firstSeed: 750 });
    const [droppedPath] = await writeScenes(dropped, 1, { firstSeed: 760 });
    const start = async (roots: string[]) => {
      const config = loadConfig(
        { model: 'tiny', dataDir, threads: 1 },
        { LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE, LOOKALIKE_IMAGE_ROOTS: roots.join(':') }
      );
      const runtime = await createRuntime(config);
      return { runtime, app: createApp(runtime) };
    };
    let server = await start([kept, dropped]);
    try {
      await indexAndWait(server.app, kept);
      await indexAndWait(server.app, dropped);
      const record = await server.runtime.collection.getPath(droppedPath!);
      const droppedId = record!.imageId;
      const keptId = (await server.runtime.collection.getPath(keptPath!))!.imageId;
      const ok = { original: 200, thumb: 200, data: 200 };
      expect(statuses(await readsOf(server.app, droppedId, droppedPath!))).toEqual(ok);

      await server.runtime.close();
      server = await start([kept]);
      expect(statuses(await readsOf(server.app, keptId, keptPath!))).toEqual(ok);
      expect(await server.runtime.collection.getImage(droppedId)).toBeDefined();
      expect(statuses(await readsOf(server.app, droppedId, droppedPath!))).toEqual(allNotFound);
    } finally {
      await server.runtime.close();
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe('DELETE /api/images', () => {
  it('clears the collection', async () => {
    const res = await s.app.request('/api/images', { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ cleared: true });
    expect(await (await s.app.request('/api/images/count')).json()).toEqual({ count: 0 });
    const vector = Array.from(await s.runtime.embedder.embedOne(jpegPath));
    const search = await s.app.request('/api/search', jsonRequest({ vector }));
    expect(((await search.json()) as { results: unknown[] }).results).toEqual([]);
    expect((await s.app.request(`/api/images/${ids.get(jpegPath)}`)).status).toBe(404);
  });
});
