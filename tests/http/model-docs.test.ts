import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelFileVersion } from '../../server/http/routes/model';
import { getManifest } from '../../server/models/registry';
import { startTestServer, type TestServer } from './helpers';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

interface ModelBody {
  id: string;
  dimension: number;
  synthetic: boolean;
  warning?: string;
  fileUrl: string;
  input: { width: number; height: number; layout: string };
  preprocess: { mean: number[] };
  output: { pooling: string };
}

describe('GET /api/model', () => {
  it('answers the active manifest, its warning and a versioned file URL', async () => {
    const res = await s.app.request('/api/model');
    expect(res.status).toBe(200);
    const body = (await res.json()) as ModelBody;
    const manifest = s.runtime.model.manifest;
    expect(body).toMatchObject({
      id: 'tiny',
      dimension: 128,
      synthetic: true,
      input: manifest.input,
      preprocess: manifest.preprocess,
      output: manifest.output
    });
    expect(body.warning).toMatch(/SYNTHETIC/);
    // A generated model has no published hash: the version is its size and mtime.
    const info = await stat(s.runtime.model.path);
    expect(body.fileUrl).toBe(`/api/model/file?v=${info.size}-${Math.floor(info.mtimeMs)}`);
  });
});

describe('modelFileVersion', () => {
  it("is the published SHA-256 for a verified download, else the file's size and mtime", async () => {
    const resnet = getManifest('resnet50');
    const path = s.runtime.model.path;
    const info = await stat(path);
    expect(await modelFileVersion({ manifest: resnet, path, source: 'cache' })).toBe(
      resnet.file.sha256
    );
    expect(resnet.file.sha256).toMatch(/^[0-9a-f]{64}$/);
    // A hand-supplied file is not checked against the manifest's hash.
    expect(await modelFileVersion({ manifest: resnet, path, source: 'file' })).toBe(
      `${info.size}-${Math.floor(info.mtimeMs)}`
    );
  });
});

describe('GET /api/model/file', () => {
  it('streams the ONNX file, immutable, with an ETag and 304', async () => {
    const { fileUrl } = (await (await s.app.request('/api/model')).json()) as ModelBody;
    const res = await s.app.request(fileUrl);
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    const onDisk = await readFile(s.runtime.model.path);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      createHash('sha256').update(onDisk).digest('hex')
    );
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const etag = res.headers.get('etag')!;
    expect(etag).toBe(`"${new URL(fileUrl, 'http://x').searchParams.get('v')}"`);
    const again = await s.app.request(fileUrl, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
  });
});

describe('OpenAPI and docs', () => {
  const everyPath = {
    '/api/health': ['get'],
    '/api/index': ['get', 'post'],
    '/api/index/snapshot': ['get'],
    '/api/index/snapshot/version': ['get'],
    '/api/index/{jobId}': ['delete', 'get'],
    '/api/index/{jobId}/events': ['get'],
    '/api/search': ['post'],
    '/api/search/image': ['post'],
    '/api/encode': ['post'],
    '/api/images': ['delete'],
    '/api/images/count': ['get'],
    '/api/images/{id}': ['get'],
    '/api/images/{id}/thumb': ['get'],
    '/api/model': ['get'],
    '/api/model/file': ['get'],
    '/img/load': ['post'],
    '/progress': ['get'],
    '/img/upload': ['post'],
    '/img/search': ['post'],
    '/img/count': ['post'],
    '/img/drop': ['post'],
    '/data': ['get']
  };

  it('lists every endpoint', async () => {
    const res = await s.app.request('/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      info: { description: string };
      paths: Record<string, Record<string, { security?: unknown[] }>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\./);
    const listed = Object.fromEntries(
      Object.entries(doc.paths).map(([path, ops]) => [path, Object.keys(ops).sort()])
    );
    expect(listed).toEqual(everyPath);
    expect(doc.info.description).toMatch(/table_name.*ignored/s);
    expect(doc.components.securitySchemes).toHaveProperty('bearerAuth');
    expect(doc.paths['/api/index']!.post!.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/api/search']!.post!.security).toBeUndefined();
  });

  it('serves Swagger UI whose assets are all local', async () => {
    const res = await s.app.request('/api/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(4);
    for (const ref of refs) {
      expect(ref, 'no CDN').toMatch(/^\/api\/docs\//);
      const asset = await s.app.request(ref);
      expect(asset.status, ref).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, ref).toBeGreaterThan(0);
    }
    const init = await (await s.app.request('/api/docs/init.js')).text();
    expect(init).toContain("'/api/openapi.json'");
    const bundle = await s.app.request('/api/docs/assets/swagger-ui-bundle.js');
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    const notListed = await s.app.request('/api/docs/assets/package.json');
    expect(notListed.status).toBe(404);
  });
});
