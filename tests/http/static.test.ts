import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app';
import { errorOf, startTestServer, type TestServer } from './helpers';

let s: TestServer;
let app: ReturnType<typeof createApp>;

const INDEX = '<!doctype html><title>Lookalike</title><div id="app"></div>';
const WASM = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

beforeAll(async () => {
  s = await startTestServer();
  const root = join(s.base, 'build');
  await mkdir(join(root, '_app'), { recursive: true });
  await writeFile(join(root, 'index.html'), INDEX);
  await writeFile(join(root, '_app', 'app.js'), 'console.log("hi")');
  await writeFile(join(root, '_app', 'ort.wasm'), WASM);
  await mkdir(join(root, '_app', 'immutable'), { recursive: true });
  await writeFile(join(root, '_app', 'immutable', 'chunk.js'), 'export {}');
  await writeFile(join(root, 'manifest.webmanifest'), '{"name":"Lookalike"}');
  app = createApp(s.runtime, { staticDir: root });
});

afterAll(() => s.close());

const ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin'
};

function expectIsolated(res: Response, label: string) {
  for (const [name, value] of Object.entries(ISOLATION)) {
    expect(res.headers.get(name), `${label}: ${name}`).toBe(value);
  }
}

describe('the web app', () => {
  it('serves its files with cross-origin isolation headers', async () => {
    const page = await app.request('/');
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(INDEX);
    expectIsolated(page, '/');

    const script = await app.request('/_app/app.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expectIsolated(script, 'app.js');

    const wasm = await app.request('/_app/ort.wasm');
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect(new Uint8Array(await wasm.arrayBuffer())).toEqual(WASM);
    expectIsolated(wasm, 'ort.wasm');
  });

  it('caches hashed build output for good and revalidates everything else', async () => {
    const hashed = await app.request('/_app/immutable/chunk.js');
    expect(hashed.status).toBe(200);
    expect(hashed.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    for (const path of ['/', '/_app/app.js', '/manifest.webmanifest']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('cache-control'), path).toBe('no-cache');
    }
    const manifest = await app.request('/manifest.webmanifest');
    expect(manifest.headers.get('content-type')).toBe('application/manifest+json');
  });

  it('falls back to index.html for its own routes, not for /api', async () => {
    const route = await app.request('/search/results?q=1');
    expect(route.status).toBe(200);
    expect(await route.text()).toBe(INDEX);
    expectIsolated(route, 'fallback');

    for (const path of ['/api/nothing', '/api/images/1/nothing', '/api']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404);
      expect((await errorOf(res)).error.code).toBe('not_found');
      expect(res.headers.get('cross-origin-embedder-policy')).toBeNull();
    }
  });

  it('keeps the API routes, seed ones included, ahead of the files', async () => {
    expect(await (await app.request('/progress')).json()).toBe('current: 0, total: 0');
    expect((await app.request('/api/health')).status).toBe(200);
  });

  it('does not serve files outside its folder', async () => {
    for (const path of [
      '/../data/catalog.db',
      '/%2e%2e/data/catalog.db',
      '/..%2fdata%2fcatalog.db'
    ]) {
      const res = await app.request(path);
      const text = await res.text();
      expect(text === INDEX || res.status === 404, path).toBe(true);
    }
  });
});
