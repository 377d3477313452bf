import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../server/http/app';
import { decodeSnapshot, searchSnapshot, type Snapshot } from '#core/snapshot';
import { scene } from '../helpers/images';
import { testRuntime } from '../helpers/runtime';
import { indexAndWait, jsonRequest, writeScenes } from './helpers';

interface VersionBody {
  version: string;
  count: number;
  modelId: string;
}

/** A runtime and app on a data directory that outlives them, so a test can restart the server. */
async function openServer(
  dataDir: string,
  imagesRoot: string,
  model: 'tiny' | 'synthetic-resnet50'
) {
  const rt = await testRuntime({ dataDir, roots: [imagesRoot], model });
  return { runtime: rt.runtime, app: createApp(rt.runtime), close: rt.cleanup };
}
type Server = Awaited<ReturnType<typeof openServer>>;

async function fetchSnapshot(server: Server): Promise<{ res: Response; snap: Snapshot }> {
  const res = await server.app.request('/api/index/snapshot');
  expect(res.status).toBe(200);
  return { res, snap: decodeSnapshot(await res.arrayBuffer()) };
}

async function versionOf(server: Server): Promise<VersionBody> {
  const res = await server.app.request('/api/index/snapshot/version');
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-cache');
  return (await res.json()) as VersionBody;
}

describe('GET /api/index/snapshot', () => {
  let base: string;
  let imagesRoot: string;
  let dataDir: string;
  let server: Server;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'lookalike-snapshot-'));
    imagesRoot = join(base, 'images');
    dataDir = join(base, 'data');
    await mkdir(imagesRoot, { recursive: true });
    server = await openServer(dataDir, imagesRoot, 'tiny');
  });
  afterAll(async () => {
    await server.close();
    await rm(base, { recursive: true, force: true });
  });

  it('serves an empty snapshot before anything is indexed', async () => {
    const { res, snap } = await fetchSnapshot(server);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(snap).toMatchObject({ count: 0, modelId: 'tiny', dimension: 128 });
    expect(await versionOf(server)).toEqual({ version: snap.version, count: 0, modelId: 'tiny' });
  });

  it('lists every indexed picture, with a version that holds across requests and a restart', async () => {
    const before = await versionOf(server);
    const paths = await writeScenes(join(imagesRoot, 'a'), 8);
    const job = await indexAndWait(server.app, imagesRoot);
    expect(job).toMatchObject({ state: 'done', indexed: 8 });

    const { res, snap } = await fetchSnapshot(server);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const etag = res.headers.get('etag');
    expect(etag).toBe(`"${snap.version}"`);
    expect(snap.version).not.toBe(before.version);
    expect(snap).toMatchObject({ count: 8, modelId: 'tiny', dimension: 128 });
    expect(snap.items.map((i) => i.path).sort()).toEqual(paths);
    expect(snap.items[0]).toMatchObject({ width: 96, height: 72 });
    const images = await Promise.all(
      snap.items.map((i) => server.runtime.collection.getImage(i.id))
    );
    expect(images.filter((image) => image !== undefined)).toHaveLength(8);
    expect(await versionOf(server)).toEqual({ version: snap.version, count: 8, modelId: 'tiny' });

    // Nothing changed: the same version, and the very same bytes (the build is cached).
    const again = await fetchSnapshot(server);
    expect(again.res.headers.get('etag')).toBe(etag);
    expect(again.snap.createdAt).toBe(snap.createdAt);

    const notModified = await server.app.request('/api/index/snapshot', {
      headers: { 'If-None-Match': etag! }
    });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    const stale = await server.app.request('/api/index/snapshot', {
      headers: { 'If-None-Match': `"${before.version}"` }
    });
    expect(stale.status).toBe(200);

    // The job routes still see job ids (the snapshot routes are matched first, by exact path).
    const jobRes = await server.app.request(`/api/index/${job.jobId}`);
    expect(jobRes.status).toBe(200);
    expect(((await jobRes.json()) as { jobId: string }).jobId).toBe(job.jobId);
    expect((await server.app.request('/api/index/no-such-job')).status).toBe(404);

    // A restart on the same data directory keeps the version (it lives in the catalog).
    await server.close();
    server = await openServer(dataDir, imagesRoot, 'tiny');
    expect((await versionOf(server)).version).toBe(snap.version);
    const restarted = await server.app.request('/api/index/snapshot', {
      headers: { 'If-None-Match': etag! }
    });
    expect(restarted.status).toBe(304);
    const rebuilt = await fetchSnapshot(server);
    expect(rebuilt.snap.items).toEqual(snap.items);
    expect(Array.from(rebuilt.snap.residuals)).toEqual(Array.from(snap.residuals));
  });

  it('changes the version when pictures are added, removed or cleared', async () => {
    const seen = new Set([(await versionOf(server)).version]);
    const expectNew = async (count: number) => {
      const { version, count: n } = await versionOf(server);
      expect(seen.has(version)).toBe(false);
      seen.add(version);
      expect(n).toBe(count);
      const { snap } = await fetchSnapshot(server);
      expect(snap.version).toBe(version);
      expect(snap.count).toBe(count);
    };

    await writeScenes(join(imagesRoot, 'b'), 3, { firstSeed: 100 });
    await indexAndWait(server.app, imagesRoot);
    await expectNew(11);

    await rm(join(imagesRoot, 'b'), { recursive: true });
    expect(await indexAndWait(server.app, imagesRoot)).toMatchObject({ removed: 3 });
    await expectNew(8);

    // Indexing again with nothing changed is not a change.
    const unchanged = await versionOf(server);
    await indexAndWait(server.app, imagesRoot);
    expect((await versionOf(server)).version).toBe(unchanged.version);

    expect((await server.app.request('/api/images', { method: 'DELETE' })).status).toBe(200);
    await expectNew(0);
  });

  it('builds once for requests that arrive together, and not again while nothing changes', async () => {
    // Only this folder: the collection was cleared by the test before.
    await writeScenes(join(imagesRoot, 'c'), 2, { firstSeed: 200 });
    await indexAndWait(server.app, join(imagesRoot, 'c'));
    const pages = vi.spyOn(server.runtime.collection, 'imagesAfter');
    try {
      const [a, b] = await Promise.all([fetchSnapshot(server), fetchSnapshot(server)]);
      expect(a.snap.count).toBe(2);
      expect(b.snap.createdAt).toBe(a.snap.createdAt);
      // One build: one page of pictures, then the empty page that ends it.
      expect(pages).toHaveBeenCalledTimes(2);
      await fetchSnapshot(server);
      expect(pages).toHaveBeenCalledTimes(2);
    } finally {
      pages.mockRestore();
    }
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await (await server.app.request('/api/openapi.json')).json()) as {
      paths: Record<string, unknown>;
    };
    expect(doc.paths['/api/index/snapshot']).toBeDefined();
    expect(doc.paths['/api/index/snapshot/version']).toBeDefined();
  });
});

describe('offline search agrees with the server', () => {
  let base: string;
  let server: Server;
  const COLLECTION = 120;
  const QUERIES = 24;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'lookalike-snapshot-'));
    const imagesRoot = join(base, 'images');
    await writeScenes(imagesRoot, COLLECTION, { width: 64, height: 48 });
    server = await openServer(join(base, 'data'), imagesRoot, 'synthetic-resnet50');
    expect(await indexAndWait(server.app, imagesRoot)).toMatchObject({
      state: 'done',
      indexed: COLLECTION
    });
  }, 300_000);
  afterAll(async () => {
    await server.close();
    await rm(base, { recursive: true, force: true });
  });

  it('top-10 from the int8 snapshot matches POST /api/search on at least 9 of 10', async () => {
    // Random weights make every vector alike (the hard case for int8): check that it is so.
    const { snap } = await fetchSnapshot(server);
    expect(snap).toMatchObject({ count: COLLECTION, modelId: 'synthetic-resnet50' });
    let overlap = 0;
    let worst = 10;
    let maxScoreError = 0;
    let minCosine = 1;
    for (let q = 0; q < QUERIES; q++) {
      // Pictures that are not in the collection, encoded like the browser would.
      const query = await server.runtime.embedder.embedOne(await scene(64, 48, 5000 + q));
      const res = await server.app.request(
        '/api/search',
        jsonRequest({ vector: Array.from(query), topK: 10 })
      );
      const online = ((await res.json()) as { results: { id: number; score: number }[] }).results;
      expect(online).toHaveLength(10);
      minCosine = Math.min(minCosine, online[9]!.score);
      const offline = searchSnapshot(snap, query, 10);
      const onlineIds = new Set(online.map((r) => r.id));
      const common = offline.filter((h) => onlineIds.has(h.id)).length;
      overlap += common;
      worst = Math.min(worst, common);
      for (const hit of offline) {
        const match = online.find((r) => r.id === hit.id);
        if (match) maxScoreError = Math.max(maxScoreError, Math.abs(match.score - hit.score));
      }
    }
    const mean = overlap / QUERIES;
    console.log(
      `offline vs server top-10 (synthetic-resnet50, ${COLLECTION} pictures, ${QUERIES} queries): ` +
        `mean overlap ${mean.toFixed(2)}/10, worst ${worst}/10, max score error ${maxScoreError.toExponential(2)}, ` +
        `10th cosine ≥ ${minCosine.toFixed(4)}`
    );
    expect(minCosine).toBeGreaterThan(0.9);
    expect(mean).toBeGreaterThanOrEqual(9);
    expect(maxScoreError).toBeLessThan(0.01);
  });
});
