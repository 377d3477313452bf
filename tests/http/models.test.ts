import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedModelPath, getManifest, listManifests } from '../../server/models/registry';
import { jsonRequest, startTestServer, type TestServer } from './helpers';

/** GET /api/models on a server with a model cache of its own, so what is installed is known. */

interface ModelChoice {
  id: string;
  name: string;
  dimension: number;
  synthetic: boolean;
  default: boolean;
  available: boolean;
  availability: string;
  note: string;
}

let s: TestServer;
let cache: string;

beforeAll(async () => {
  cache = await mkdtemp(join(tmpdir(), 'lookalike-models-cache-'));
  // Only the tiny model (generated at start-up) is in this cache.
  s = await startTestServer({ LOOKALIKE_MODEL_CACHE: cache });
}, 60_000);
afterAll(async () => {
  await s.close();
  await rm(cache, { recursive: true, force: true });
});

const list = async () => {
  const res = await s.app.request('/api/models');
  expect(res.status).toBe(200);
  return ((await res.json()) as { models: ModelChoice[] }).models;
};
const byId = (models: ModelChoice[], id: string) => models.find((m) => m.id === id)!;

describe('GET /api/models', () => {
  it("lists every known model, the server's own first, with what it takes to use it", async () => {
    const models = await list();
    expect(models.map((m) => m.id).sort()).toEqual(
      listManifests()
        .map((m) => m.id)
        .sort()
    );
    expect(models[0]).toMatchObject({
      id: 'tiny',
      dimension: 128,
      synthetic: true,
      default: true,
      available: true,
      availability: 'in-use'
    });
    expect(models.filter((m) => m.default)).toHaveLength(1);
    expect(byId(models, 'synthetic-resnet50')).toMatchObject({
      synthetic: true,
      available: true,
      availability: 'generatable'
    });
    expect(byId(models, 'resnet50')).toMatchObject({
      dimension: 2048,
      synthetic: false,
      available: false,
      availability: 'downloadable'
    });
    expect(byId(models, 'resnet50').note).toContain('npx lookalike model fetch resnet50');
    expect(byId(models, 'efficientnet-lite0')).toMatchObject({
      dimension: 1280,
      available: false,
      availability: 'importable'
    });
    expect(byId(models, 'efficientnet-lite0').note).toMatch(/model import/);
    expect(byId(models, 'tiny').note).toMatch(/mean nothing/);
    // Real models before synthetic ones after the server's own.
    const rest = models.slice(1).map((m) => m.synthetic);
    expect(rest).toEqual([...rest].sort((a, b) => Number(a) - Number(b)));
  });

  it('says unavailable exactly where creating a collection with it fails', async () => {
    const res = await s.app.request(
      '/api/collections',
      jsonRequest({ name: 'lite', model: 'efficientnet-lite0' })
    );
    expect(res.status).toBeGreaterThanOrEqual(400);
    const ok = await s.app.request('/api/collections', jsonRequest({ name: 't2', model: 'tiny' }));
    expect(ok.status).toBe(201);
  });

  it('sees a model installed while the server runs', async () => {
    const resnet = getManifest('resnet50');
    await writeFile(cachedModelPath(cache, resnet), 'stand-in');
    expect(byId(await list(), 'resnet50')).toMatchObject({
      available: true,
      availability: 'cached'
    });
  });
});
