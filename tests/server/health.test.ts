import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { createApp } from '../../server/http/app';
import { createRuntime, type Runtime } from '../../server/runtime';
import { REPO_ROOT } from '../helpers/cli';
import { scene } from '../helpers/images';
import { TEST_MODEL_CACHE, testModel } from '../helpers/models';

interface ManifestOnDisk {
  id: string;
  name: string;
  dimension: number;
}

async function manifestOnDisk(id: string): Promise<ManifestOnDisk> {
  return JSON.parse(
    await readFile(join(REPO_ROOT, 'models', `${id}.json`), 'utf8')
  ) as ManifestOnDisk;
}

interface HealthBody {
  status: string;
  model: {
    id: string;
    name: string;
    dimension: number;
    synthetic: boolean;
    source: string;
    warning?: string;
  };
  stores: { catalog: string; vectors: string; reachable: { catalog: boolean; vectors: boolean } };
  count: number;
}

interface ErrorBody {
  error: { code: string; message: string };
}

let dataDir: string;
const runtimes: Runtime[] = [];

async function runtimeWith(flags: Parameters<typeof loadConfig>[0]): Promise<Runtime> {
  // One data dir per runtime: a collection belongs to one model.
  const own = join(dataDir, String(runtimes.length));
  const runtime = await createRuntime(
    loadConfig(flags, { LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE, LOOKALIKE_DATA_DIR: own })
  );
  runtimes.push(runtime);
  return runtime;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'lookalike-health-'));
});

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
  await rm(dataDir, { recursive: true, force: true });
});

describe('GET /api/health', () => {
  it('reports a synthetic model with its warning', async () => {
    const tiny = await manifestOnDisk('tiny');
    const app = createApp(await runtimeWith({ model: 'tiny' }));
    const res = await app.request('/api/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as HealthBody;
    expect(body.status).toBe('ok');
    expect(body.model).toMatchObject({
      id: 'tiny',
      name: tiny.name,
      dimension: tiny.dimension,
      synthetic: true,
      source: 'generated'
    });
    expect(body.model.dimension).toBe(128);
    expect(body.model.warning).toMatch(/SYNTHETIC/);
    expect(body.model.warning).toContain('npx lookalike model fetch resnet50');
    expect(body.stores).toEqual({
      catalog: 'sqlite',
      vectors: 'usearch-hnsw',
      reachable: { catalog: true, vectors: true }
    });
    expect(body.count).toBe(0);
    expect(Object.keys(body).sort()).toEqual(['count', 'model', 'status', 'stores']);
  });

  it('counts the pictures in the collection', async () => {
    const runtime = await runtimeWith({ model: 'tiny' });
    const folder = join(dataDir, 'pictures');
    await mkdir(folder, { recursive: true });
    for (const seed of [1, 2, 3]) {
      await writeFile(join(folder, `${seed}.jpg`), await scene(64, 48, seed));
    }
    await writeFile(join(folder, 'copy.jpg'), await scene(64, 48, 1));
    const roots = await runtime.roots.with(folder);
    const job = await runtime.jobs.start({ path: folder }, roots);
    expect(await runtime.jobs.waitFor(job.jobId)).toMatchObject({ state: 'done', indexed: 4 });
    const body = (await (await createApp(runtime).request('/api/health')).json()) as HealthBody;
    expect(body.count).toBe(3); // distinct pictures: the copy is the same one
  });

  it('has no warning for a real model', async () => {
    // The real ResNet-50 manifest names no tensors, so the synthetic graph stands in for its file.
    const file = (await testModel('synthetic-resnet50')).path;
    const resnet = await manifestOnDisk('resnet50');
    const app = createApp(await runtimeWith({ modelFile: file }));
    const res = await app.request('/api/health');
    expect(res.status).toBe(200);
    const body = (await res.json()) as HealthBody;
    expect(body.model).toMatchObject({
      id: 'resnet50',
      dimension: resnet.dimension,
      synthetic: false,
      source: 'file'
    });
    expect(body.model).not.toHaveProperty('warning');
  });
});

describe('errors', () => {
  it('answers an unknown route with a JSON 404', async () => {
    const app = createApp(await runtimeWith({ model: 'tiny' }));
    for (const [method, path] of [
      ['GET', '/api/no-such-route'],
      ['GET', '/nothing/here']
    ] as const) {
      const res = await app.request(path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as ErrorBody;
      expect(Object.keys(body)).toEqual(['error']);
      expect(typeof body.error.code).toBe('string');
      expect(body.error.code.length).toBeGreaterThan(0);
      expect(typeof body.error.message).toBe('string');
      expect(body.error.message.length).toBeGreaterThan(0);
    }
  });
});
