import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app';
import { scene } from '../helpers/images';
import {
  errorOf,
  imageForm,
  indexAndWait,
  jsonRequest,
  listen,
  startTestServer,
  writeScenes,
  type TestServer
} from './helpers';

const TOKEN = 'correct-horse-battery';

describe('admin token', () => {
  let s: TestServer;
  let pictures: string[];
  const auth = { Authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    s = await startTestServer({ LOOKALIKE_ADMIN_TOKEN: TOKEN });
    pictures = await writeScenes(join(s.imagesRoot, 'set'), 3);
  });
  afterAll(() => s.close());

  /** Each protected endpoint, as a request factory (bodies cannot be reused). */
  const protectedRequests = (): [string, string, () => RequestInit][] => [
    ['POST', '/api/index', () => jsonRequest({ path: join(s.imagesRoot, 'set') })],
    ['DELETE', '/api/index/JOB', () => ({ method: 'DELETE' })],
    ['DELETE', '/api/images', () => ({ method: 'DELETE' })],
    ['POST', '/img/load', () => jsonRequest({ File: join(s.imagesRoot, 'set') })],
    ['POST', '/img/upload', () => ({ method: 'POST', body: imageForm(uploadBytes) })],
    ['POST', '/img/drop', () => ({ method: 'POST' })]
  ];
  let uploadBytes: Uint8Array;

  it('refuses the endpoints that change the collection without the right token', async () => {
    uploadBytes = await readFile(pictures[0]!);
    const wrong: Record<string, string>[] = [
      {},
      { Authorization: 'Bearer not-the-token' },
      { Authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
      { Authorization: `Bearer ${TOKEN}x` },
      { Authorization: 'Bearer' }
    ];
    for (const [method, path, init] of protectedRequests()) {
      for (const headers of wrong) {
        const request = init();
        const res = await s.app.request(path.replace('JOB', 'x'), {
          ...request,
          headers: { ...(request.headers as Record<string, string>), ...headers }
        });
        expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expect((await errorOf(res)).error.code).toBe('unauthorized');
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
    }
    // Nothing happened.
    expect(await (await s.app.request('/api/index')).json()).toEqual({ jobs: [] });
    expect(await (await s.app.request('/api/images/count')).json()).toEqual({ count: 0 });
  });

  it('checks the token before the body', async () => {
    const res = await s.app.request('/api/index', jsonRequest({ nonsense: true }));
    expect(res.status).toBe(401);
  });

  it('lets the right token through', async () => {
    const job = await indexAndWait(s.app, join(s.imagesRoot, 'set'), auth);
    expect(job.state).toBe('done');
    const statuses: Record<string, number> = {};
    for (const [method, path, init] of protectedRequests()) {
      const request = init();
      const res = await s.app.request(path.replace('JOB', job.jobId), {
        ...request,
        headers: { ...(request.headers as Record<string, string>), ...auth }
      });
      statuses[`${method} ${path}`] = res.status;
      if (path === '/api/index')
        await s.runtime.jobs.waitFor(((await res.json()) as { jobId: string }).jobId);
    }
    expect(statuses).toEqual({
      'POST /api/index': 202,
      'DELETE /api/index/JOB': 200,
      'DELETE /api/images': 200,
      'POST /img/load': 200,
      'POST /img/upload': 200,
      'POST /img/drop': 200
    });
  });

  it('leaves reading and searching open', async () => {
    for (const [path, init] of [
      ['/api/health', {}],
      ['/api/images/count', {}],
      ['/api/index', {}],
      ['/progress', {}],
      ['/img/count', { method: 'POST' }],
      ['/api/search', jsonRequest({ vector: Array.from({ length: 128 }, () => 1) })]
    ] as const) {
      const res = await s.app.request(path, init);
      expect(res.status, path).toBe(200);
    }
  });
});

describe('CORS', () => {
  const preflight = {
    method: 'OPTIONS',
    headers: {
      Origin: 'https://app.example',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type,authorization'
    }
  };

  it('sends no CORS headers unless configured', async () => {
    const s = await startTestServer();
    try {
      const res = await s.app.request('/api/health', {
        headers: { Origin: 'https://app.example' }
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const pre = await s.app.request('/api/search', preflight);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await s.close();
    }
  });

  it('allows only the configured origins', async () => {
    const s = await startTestServer({
      LOOKALIKE_CORS_ORIGINS: 'https://app.example, https://other.example'
    });
    try {
      const ok = await s.app.request('/api/health', { headers: { Origin: 'https://app.example' } });
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(ok.headers.get('vary')).toMatch(/Origin/);
      const evil = await s.app.request('/api/health', {
        headers: { Origin: 'https://evil.example' }
      });
      expect(evil.headers.get('access-control-allow-origin')).toBeNull();
      const pre = await s.app.request('/api/search', preflight);
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
      expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
      // Errors carry the header too, so the browser can read them.
      const error = await s.app.request('/api/nothing', {
        headers: { Origin: 'https://app.example' }
      });
      expect(error.status).toBe(404);
      expect(error.headers.get('access-control-allow-origin')).toBe('https://app.example');
    } finally {
      await s.close();
    }
  });

  it("allows every origin with '*'", async () => {
    const s = await startTestServer({ LOOKALIKE_CORS_ORIGINS: '*' });
    try {
      const res = await s.app.request('/api/health', {
        headers: { Origin: 'https://any.example' }
      });
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await s.close();
    }
  });
});

describe('body size limits', () => {
  let s: TestServer;
  let server: Awaited<ReturnType<typeof listen>>;
  let big: Uint8Array;
  let small: Uint8Array;

  beforeAll(async () => {
    s = await startTestServer({ LOOKALIKE_MAX_UPLOAD_BYTES: '60000' });
    server = await listen(s.app);
    big = await scene(400, 300, 5, 'png'); // noisy PNG, far over 60 000 bytes
    small = await scene(64, 48, 6);
    expect(big.length).toBeGreaterThan(100_000);
    expect(small.length).toBeLessThan(20_000);
  });
  afterAll(async () => {
    await server.close();
    await s.close();
  });

  it('answers 413 for uploads over LOOKALIKE_MAX_UPLOAD_BYTES, in process and over HTTP', async () => {
    for (const path of ['/api/search/image', '/img/search', '/img/upload']) {
      const inProcess = await s.app.request(path, { method: 'POST', body: imageForm(big) });
      expect(inProcess.status, path).toBe(413);
      expect((await errorOf(inProcess)).error.code).toBe('payload_too_large');
      const overHttp = await fetch(`${server.url}${path}`, {
        method: 'POST',
        body: imageForm(big)
      });
      expect(overHttp.status, path).toBe(413);
      expect((await errorOf(overHttp)).error.code).toBe('payload_too_large');
      const fine = await s.app.request(path, { method: 'POST', body: imageForm(small) });
      expect(fine.status, path).toBe(200);
    }
    expect(await (await s.app.request('/api/images/count')).json()).toEqual({ count: 1 });
  });

  it('answers 413 for JSON bodies over 1 MiB', async () => {
    const vector = Array.from({ length: 200_000 }, () => 0.123456);
    const res = await s.app.request('/api/search', jsonRequest({ vector }));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).error.code).toBe('payload_too_large');
  });
});

describe('GET /data', () => {
  let s: TestServer;
  let indexed: string[];

  beforeAll(async () => {
    s = await startTestServer();
    indexed = await writeScenes(join(s.imagesRoot, 'set'), 2);
    await indexAndWait(s.app, join(s.imagesRoot, 'set'));
    await writeScenes(join(s.imagesRoot, 'later'), 1, { firstSeed: 50 }); // inside the root, not indexed
  });
  afterAll(() => s.close());

  it('serves exactly the indexed paths and nothing else', async () => {
    const ok = await s.app.request(`/data?image_path=${encodeURIComponent(indexed[0]!)}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await ok.arrayBuffer()).equals(await readFile(indexed[0]!))).toBe(true);

    const refused = [
      '/etc/passwd',
      '../../../../etc/passwd',
      `${s.imagesRoot}/set/../../../../etc/passwd`,
      `${s.imagesRoot}/set/%2e%2e/%2e%2e/etc/passwd`,
      join(s.imagesRoot, 'later', 'img-00.jpg'),
      join(s.dataDir, 'catalog.db'),
      s.imagesRoot
    ];
    for (const path of refused) {
      const res = await s.app.request(`/data?image_path=${encodeURIComponent(path)}`);
      expect(res.status, path).toBe(404);
      expect((await errorOf(res)).error.code).toBe('not_found');
    }
    const raw = await s.app.request('/data?image_path=%2e%2e%2f%2e%2e%2fetc%2fpasswd');
    expect(raw.status).toBe(404);
    const missing = await s.app.request('/data');
    expect(missing.status).toBe(400);
    await errorOf(missing);
  });
});

describe('paths the server may not index', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer();
    await writeScenes(join(s.base, 'outside'), 1);
  });
  afterAll(() => s.close());

  it('answers the same for a missing path and an existing one outside the roots', async () => {
    const paths = [
      join(s.base, 'outside'), // exists, outside
      join(s.base, 'outside', 'img-00.jpg'),
      '/etc',
      join(s.base, 'no such folder'), // missing, outside
      join(s.imagesRoot, 'no such folder') // missing, inside
    ];
    for (const [url, body] of [
      ['/api/index', (path: string) => ({ path })],
      ['/img/load', (path: string) => ({ File: path })]
    ] as const) {
      const answers = new Set<string>();
      for (const path of paths) {
        const res = await s.app.request(url, jsonRequest(body(path)));
        const text = await res.text();
        expect(text, path).not.toContain(s.imagesRoot);
        answers.add(`${res.status} ${text}`);
      }
      expect([...answers], url).toHaveLength(1);
      expect([...answers][0]).toMatch(/^404 /);
    }
  });
});

describe('errors and logs', () => {
  it('answers unknown errors with a bare 500 and logs them with the request id', async () => {
    const s = await startTestServer();
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      }
    });
    try {
      const app = createApp(s.runtime, { logger: pino({ level: 'info' }, sink) });
      s.runtime.collection.count = () => Promise.reject(new Error('secret detail at /srv/x'));
      const res = await app.request('/api/images/count');
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({
        error: { code: 'internal', message: 'Internal server error' }
      });
      expect(text).not.toMatch(/secret|\/srv|at /);

      const requestId = res.headers.get('x-request-id');
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      const logged = lines.filter((l) => l.reqId === requestId);
      expect(logged.map((l) => l.msg)).toEqual(['unhandled error', 'request']);
      expect(JSON.stringify(logged[0])).toContain('secret detail');
      expect(logged[1]).toMatchObject({ method: 'GET', path: '/api/images/count', status: 500 });

      const other = await app.request('/api/health');
      expect(other.headers.get('x-request-id')).not.toBe(requestId);
    } finally {
      await s.close();
    }
  });
});
