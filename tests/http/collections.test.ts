import { mkdir, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSnapshot } from '#core/snapshot';
import { createApp } from '../../server/http/app';
import { testRuntime } from '../helpers/runtime';
import {
  errorOf,
  imageForm,
  jsonRequest,
  readEvents,
  writeScenes,
  listen,
  type JobBody
} from './helpers';

interface CollectionBody {
  name: string;
  model: { id: string; dimension: number } | null;
  images: number;
  default: boolean;
}
interface SearchBody {
  results: { id: number; path: string; score: number; imageUrl: string; thumbUrl: string }[];
}

/** A server on a data directory that outlives it, so the test can restart it. */
async function openServer(dataDir: string, root: string, env: Record<string, string> = {}) {
  const rt = await testRuntime({ dataDir, roots: [root], model: 'tiny', env });
  return { runtime: rt.runtime, app: createApp(rt.runtime), close: rt.cleanup };
}
type Server = Awaited<ReturnType<typeof openServer>>;

const FINISHED = ['done', 'failed', 'cancelled', 'interrupted'];

async function indexInto(server: Server, path: string, collection?: string): Promise<JobBody> {
  const q = collection ? `?collection=${collection}` : '';
  const res = await server.app.request(`/api/index${q}`, jsonRequest({ path }));
  expect(res.status, await res.clone().text()).toBe(202);
  const { jobId } = (await res.json()) as { jobId: string };
  for (let i = 0; i < 1200; i++) {
    const job = (await (await server.app.request(`/api/index/${jobId}${q}`)).json()) as JobBody;
    if (FINISHED.includes(job.state)) return job;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${jobId} did not finish`);
}

async function searchWith(server: Server, file: string, collection?: string) {
  const q = collection ? `?collection=${collection}` : '';
  const res = await server.app.request(`/api/search/image${q}`, {
    method: 'POST',
    body: imageForm(await readFile(file), { topK: '3' })
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as SearchBody;
}

async function listed(server: Server): Promise<CollectionBody[]> {
  const res = await server.app.request('/api/collections');
  expect(res.status).toBe(200);
  return ((await res.json()) as { collections: CollectionBody[] }).collections;
}

describe('named collections over HTTP', () => {
  let base: string;
  let root: string;
  let dataDir: string;
  let server: Server;
  let products: string[];
  let wallpapers: string[];

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'lookalike-collections-')));
    root = join(base, 'images');
    dataDir = join(base, 'data');
    await mkdir(root, { recursive: true });
    products = await writeScenes(join(root, 'products'), 4, { firstSeed: 10 });
    wallpapers = await writeScenes(join(root, 'wallpapers'), 3, { firstSeed: 40 });
    server = await openServer(dataDir, root);
  });
  afterAll(async () => {
    await server?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('lists the default collection from the start', async () => {
    expect(await listed(server)).toEqual([
      { name: 'default', model: { id: 'tiny', dimension: 128 }, images: 0, default: true }
    ]);
  });

  it('creates a collection with another model: 201, then 200 again, 409 for another model', async () => {
    const create = (body: unknown) => server.app.request('/api/collections', jsonRequest(body));
    const res = await create({ name: 'wall-papers_2', model: 'synthetic-resnet50' });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({
      name: 'wall-papers_2',
      model: { id: 'synthetic-resnet50', dimension: 2048 },
      images: 0,
      default: false
    });
    const again = await create({ name: 'wall-papers_2', model: 'synthetic-resnet50' });
    expect(again.status).toBe(200);
    expect(((await again.json()) as CollectionBody).model?.id).toBe('synthetic-resnet50');
    expect((await create({ name: 'wall-papers_2' })).status).toBe(200);
    const clash = await create({ name: 'wall-papers_2', model: 'tiny' });
    expect(clash.status).toBe(409);
    expect((await errorOf(clash)).error.code).toBe('collection_model_mismatch');
    const bad = await create({ name: '-nope' });
    expect(bad.status).toBe(400);
    const unknownModel = await create({ name: 'x', model: 'no-such-model' });
    expect(unknownModel.status).toBe(400);
    expect((await listed(server)).map((c) => c.name)).toEqual(['default', 'wall-papers_2']);
  });

  it('indexes different folders into each and searches each separately', async () => {
    const a = await indexInto(server, join(root, 'products'));
    expect(a).toMatchObject({ state: 'done', indexed: 4 });
    const b = await indexInto(server, join(root, 'wallpapers'), 'wall-papers_2');
    expect(b).toMatchObject({ state: 'done', indexed: 3 });
    // A name that does not exist yet is created by indexing into it, with the server's model.
    const c = await indexInto(server, join(root, 'wallpapers'), 'third');
    expect(c).toMatchObject({ state: 'done', indexed: 3 });

    const byName = new Map((await listed(server)).map((x) => [x.name, x]));
    expect(byName.get('default')).toMatchObject({ images: 4, model: { id: 'tiny' } });
    expect(byName.get('wall-papers_2')).toMatchObject({
      images: 3,
      model: { id: 'synthetic-resnet50', dimension: 2048 }
    });
    expect(byName.get('third')).toMatchObject({ images: 3, model: { id: 'tiny' } });

    const inDefault = await searchWith(server, products[1]!);
    expect(inDefault.results[0]).toMatchObject({ path: products[1] });
    expect(inDefault.results.every((r) => products.includes(r.path))).toBe(true);
    expect(inDefault.results[0]!.imageUrl).toBe(`/api/images/${inDefault.results[0]!.id}`);

    const inOther = await searchWith(server, wallpapers[2]!, 'wall-papers_2');
    expect(inOther.results[0]).toMatchObject({ path: wallpapers[2] });
    expect(inOther.results.every((r) => wallpapers.includes(r.path))).toBe(true);
    const hit = inOther.results[0]!;
    expect(hit.imageUrl).toBe(`/api/images/${hit.id}?collection=wall-papers_2`);
    expect(hit.thumbUrl).toBe(`/api/images/${hit.id}/thumb?collection=wall-papers_2`);
    // Ids are unique over collections: the same picture in `third` has another id.
    const inThird = await searchWith(server, wallpapers[2]!, 'third');
    expect(inThird.results[0]!.path).toBe(wallpapers[2]);
    expect(inThird.results[0]!.id).not.toBe(hit.id);

    // Search by vector checks the collection's own dimension.
    const wrong = await server.app.request(
      '/api/search?collection=wall-papers_2',
      jsonRequest({ vector: Array.from({ length: 128 }, () => 1) })
    );
    expect(wrong.status).toBe(400);

    const counts = await Promise.all(
      ['', '?collection=wall-papers_2'].map(async (q) => {
        const res = await server.app.request(`/api/images/count${q}`);
        return ((await res.json()) as { count: number }).count;
      })
    );
    expect(counts).toEqual([4, 3]);
  });

  it('serves images and thumbnails at the URLs search gives, and only in their collection', async () => {
    const hit = (await searchWith(server, wallpapers[0]!, 'wall-papers_2')).results[0]!;
    const image = await server.app.request(hit.imageUrl);
    expect(image.status).toBe(200);
    expect(new Uint8Array(await image.arrayBuffer())).toEqual(
      new Uint8Array(await readFile(wallpapers[0]!))
    );
    const thumb = await server.app.request(hit.thumbUrl);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    // The same id without its collection is not the default collection's.
    expect((await server.app.request(`/api/images/${hit.id}`)).status).toBe(404);
  });

  it('answers 404 collection_not_found for an unknown collection on reads and writes', async () => {
    const paths = [
      '/api/images/count?collection=nope',
      '/api/index?collection=nope',
      '/api/index/snapshot/version?collection=nope',
      '/api/model?collection=nope',
      '/api/images/1?collection=nope'
    ];
    for (const path of paths) {
      const res = await server.app.request(path);
      expect(res.status, path).toBe(404);
      const body = await errorOf(res);
      expect(body.error.code, path).toBe('collection_not_found');
      expect(body.error.message).toContain('nope');
    }
    const search = await server.app.request(
      '/api/search?collection=nope',
      jsonRequest({ vector: Array.from({ length: 128 }, () => 1) })
    );
    expect((await errorOf(search)).error.code).toBe('collection_not_found');
    const clear = await server.app.request('/api/images?collection=nope', { method: 'DELETE' });
    expect(clear.status).toBe(404);
    const invalid = await server.app.request('/api/images/count?collection=a%20b');
    expect(invalid.status).toBe(400);
    expect((await listed(server)).map((c) => c.name)).not.toContain('nope');
  });

  it("gives each collection's model and snapshot", async () => {
    const model = await server.app.request('/api/model?collection=wall-papers_2');
    const body = (await model.json()) as { id: string; dimension: number; fileUrl: string };
    expect(body).toMatchObject({ id: 'synthetic-resnet50', dimension: 2048 });
    expect(body.fileUrl).toContain('collection=wall-papers_2');
    expect((await server.app.request(body.fileUrl)).status).toBe(200);
    const main = (await (await server.app.request('/api/model')).json()) as { id: string };
    expect(main.id).toBe('tiny');

    const version = (await (
      await server.app.request('/api/index/snapshot/version?collection=wall-papers_2')
    ).json()) as { version: string; count: number; modelId: string };
    expect(version).toMatchObject({ count: 3, modelId: 'synthetic-resnet50' });
    const res = await server.app.request('/api/index/snapshot?collection=wall-papers_2');
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${version.version}"`);
    const snap = decodeSnapshot(await res.arrayBuffer());
    expect(snap).toMatchObject({ count: 3, modelId: 'synthetic-resnet50', dimension: 2048 });
    const other = decodeSnapshot(
      await (await server.app.request('/api/index/snapshot')).arrayBuffer()
    );
    expect(other).toMatchObject({ count: 4, modelId: 'tiny', dimension: 128 });
  });

  it("lists and follows only the collection's own jobs", async () => {
    const own = (await (
      await server.app.request('/api/index?collection=wall-papers_2')
    ).json()) as { jobs: JobBody[] };
    expect(own.jobs.map((j) => j.path)).toEqual([join(root, 'wallpapers')]);
    const mine = own.jobs[0]!;
    // Another collection's job is not found through the default collection.
    expect((await server.app.request(`/api/index/${mine.jobId}`)).status).toBe(404);
    const http = await listen(server.app);
    try {
      const res = await fetch(
        `${http.url}/api/index/${mine.jobId}/events?collection=wall-papers_2`
      );
      expect(res.status).toBe(200);
      const events = await readEvents<JobBody>(res);
      expect(events.at(-1)!.data).toMatchObject({ jobId: mine.jobId, state: 'done' });
    } finally {
      await http.close();
    }
  });

  it('deletes one collection and leaves the others; the default one is only emptied', async () => {
    const res = await server.app.request('/api/collections/third', { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: true });
    const gone = await server.app.request('/api/collections/third', { method: 'DELETE' });
    expect(gone.status).toBe(404);
    expect((await errorOf(gone)).error.code).toBe('collection_not_found');
    expect((await server.app.request('/api/images/count?collection=third')).status).toBe(404);
    expect((await listed(server)).map((c) => c.name)).toEqual(['default', 'wall-papers_2']);
    expect((await searchWith(server, wallpapers[1]!, 'wall-papers_2')).results[0]!.path).toBe(
      wallpapers[1]
    );
    // Created again, it starts empty (new id, new vectors).
    const again = await indexInto(server, join(root, 'products'), 'third');
    expect(again).toMatchObject({ state: 'done', indexed: 4 });
    const found = await searchWith(server, products[0]!, 'third');
    expect(found.results.every((r) => products.includes(r.path))).toBe(true);
  });

  it('keeps every collection across a restart', async () => {
    await server.close();
    server = await openServer(dataDir, root);
    const byName = new Map((await listed(server)).map((x) => [x.name, x]));
    expect(byName.get('wall-papers_2')).toMatchObject({
      images: 3,
      model: { id: 'synthetic-resnet50', dimension: 2048 }
    });
    expect(byName.get('default')).toMatchObject({ images: 4 });
    expect(byName.get('third')).toMatchObject({ images: 4 });
    expect((await searchWith(server, wallpapers[2]!, 'wall-papers_2')).results[0]!.path).toBe(
      wallpapers[2]
    );
    expect((await searchWith(server, products[3]!)).results[0]!.path).toBe(products[3]);
    // Deleting the default collection empties it; it stays listed.
    const res = await server.app.request('/api/collections/default', { method: 'DELETE' });
    expect(res.status).toBe(200);
    const after = new Map((await listed(server)).map((x) => [x.name, x]));
    expect(after.get('default')).toMatchObject({ images: 0, default: true });
    expect(after.get('wall-papers_2')).toMatchObject({ images: 3 });
  });

  it('needs the admin token to create or delete, and refuses cross-site writes', async () => {
    const guarded = await openServer(join(base, 'data2'), root, {
      LOOKALIKE_ADMIN_TOKEN: 'secret-token-1'
    });
    try {
      const create = await guarded.app.request('/api/collections', jsonRequest({ name: 'a' }));
      expect(create.status).toBe(401);
      const del = await guarded.app.request('/api/collections/default', { method: 'DELETE' });
      expect(del.status).toBe(401);
      const ok = await guarded.app.request(
        '/api/collections',
        jsonRequest({ name: 'a' }, { headers: { Authorization: 'Bearer secret-token-1' } })
      );
      expect(ok.status).toBe(201);
      const crossSite = await guarded.app.request('/api/collections/a', {
        method: 'DELETE',
        headers: {
          Authorization: 'Bearer secret-token-1',
          'Sec-Fetch-Site': 'cross-site',
          Origin: 'https://evil.example'
        }
      });
      expect(crossSite.status).toBe(403);
    } finally {
      await guarded.close();
    }
  });
});
