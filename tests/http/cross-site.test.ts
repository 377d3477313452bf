import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

/** What a page on another site can send, and what the browser adds to it. */
const EVIL = { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' };

const countOf = async (s: TestServer) =>
  ((await (await s.app.request('/api/images/count')).json()) as { count: number }).count;

/** Every request that changes the collection or costs work, as a factory (bodies are single-use). */
function unsafeRequests(s: TestServer, upload: Uint8Array): [string, () => RequestInit][] {
  const vector = Array.from({ length: 128 }, () => 1);
  return [
    ['/img/drop', () => ({ method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '' })],
    ['/img/upload', () => ({ method: 'POST', body: imageForm(upload) })],
    ['/img/load', () => jsonRequest({ File: join(s.imagesRoot, 'set') })],
    ['/img/search', () => ({ method: 'POST', body: imageForm(upload) })],
    ['/img/count', () => ({ method: 'POST' })],
    ['/api/images', () => ({ method: 'DELETE' })],
    ['/api/index', () => jsonRequest({ path: join(s.imagesRoot, 'set') })],
    ['/api/index/some-job', () => ({ method: 'DELETE' })],
    ['/api/encode', () => ({ method: 'POST', body: imageForm(upload) })],
    ['/api/search/image', () => ({ method: 'POST', body: imageForm(upload) })],
    ['/api/search', () => jsonRequest({ vector })]
  ];
}

function withHeaders(init: RequestInit, headers: Record<string, string>): RequestInit {
  return { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } };
}

async function expectRefused(res: Response, what: string) {
  expect(res.status, what).toBe(403);
  const { error } = await errorOf(res);
  expect(error.code, what).toBe('cross_site_refused');
  expect(error.message, what).toMatch(/LOOKALIKE_CORS_ORIGINS/);
}

describe('cross-site requests (no token, no CORS: the defaults)', () => {
  let s: TestServer;
  let upload: Uint8Array;

  beforeAll(async () => {
    s = await startTestServer();
    const pictures = await writeScenes(join(s.imagesRoot, 'set'), 5);
    upload = await readFile(pictures[0]!);
    // No Origin, no Sec-Fetch-Site: curl, the CLI, the bootcamp's scripts.
    expect((await indexAndWait(s.app, join(s.imagesRoot, 'set'))).state).toBe('done');
    expect(await countOf(s)).toBe(5);
  });
  afterAll(() => s.close());

  it('refuses a simple text/plain POST /img/drop from another site, and the collection stays', async () => {
    const res = await s.app.request('/img/drop', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain', ...EVIL },
      body: 'x'
    });
    await expectRefused(res, 'POST /img/drop');
    expect(await countOf(s)).toBe(5);
  });

  it('refuses a multipart upload from a foreign Origin, with or without Sec-Fetch-Site', async () => {
    for (const headers of [{ Origin: 'https://evil.example' }, EVIL, { Origin: 'null' }]) {
      const res = await s.app.request(
        '/img/upload',
        withHeaders({ method: 'POST', body: imageForm(upload) }, headers)
      );
      await expectRefused(res, JSON.stringify(headers));
    }
    expect(await countOf(s)).toBe(5);
  });

  it('refuses every endpoint that changes or costs when the browser marks it cross-site', async () => {
    const marks: Record<string, string>[] = [
      EVIL,
      { Origin: 'http://localhost.evil.example' },
      { 'Sec-Fetch-Site': 'cross-site' },
      { 'Sec-Fetch-Site': 'same-site' },
      { Origin: 'https://sub.localhost.example', 'Sec-Fetch-Site': 'same-site' }
    ];
    for (const [path, init] of unsafeRequests(s, upload)) {
      for (const headers of marks) {
        const res = await s.app.request(path, withHeaders(init(), headers));
        await expectRefused(res, `${init().method} ${path} ${JSON.stringify(headers)}`);
      }
    }
    expect(await countOf(s)).toBe(5);
    const { jobs } = (await (await s.app.request('/api/index')).json()) as { jobs: unknown[] };
    expect(jobs).toHaveLength(1); // only the set-up's own job
  });

  it('still answers cross-site reads: CORS, not this check, decides whether a page may read them', async () => {
    for (const path of ['/api/health', '/api/images/count', '/progress']) {
      const res = await s.app.request(path, { headers: EVIL });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('access-control-allow-origin'), path).toBeNull();
    }
  });

  it('lets the server’s own pages through, however the browser says so', async () => {
    const own: Record<string, string>[] = [
      { Origin: 'http://localhost', 'Sec-Fetch-Site': 'same-origin' },
      { Origin: 'http://localhost' },
      { 'Sec-Fetch-Site': 'same-origin' },
      { 'Sec-Fetch-Site': 'none' },
      // Behind a TLS-terminating proxy the server sees http, the page is https.
      { Origin: 'https://localhost' }
    ];
    for (const headers of own) {
      const res = await s.app.request(
        '/img/search',
        withHeaders({ method: 'POST', body: imageForm(upload) }, headers)
      );
      expect(res.status, JSON.stringify(headers)).toBe(200);
    }
    const [fresh] = await writeScenes(join(s.base, 'new'), 1, { firstSeed: 90 });
    const added = await s.app.request(
      '/img/upload',
      withHeaders({ method: 'POST', body: imageForm(await readFile(fresh!)) }, own[0]!)
    );
    expect(added.status).toBe(200);
    expect(await countOf(s)).toBe(6);
  });

  it('compares Origin with the Host actually used, over real HTTP', async () => {
    const server = await listen(s.app);
    try {
      const search = (origin: string) =>
        fetch(`${server.url}/img/search`, {
          method: 'POST',
          headers: { Origin: origin },
          body: imageForm(upload)
        });
      expect((await search(server.url)).status).toBe(200);
      const port = new URL(server.url).port;
      await expectRefused(await search(`http://127.0.0.1:${Number(port) + 1}`), 'other port');
      await expectRefused(await search('https://evil.example'), 'evil');
      // The bootcamp's Python scripts: multipart, no Origin.
      const plain = await fetch(`${server.url}/img/count`, { method: 'POST' });
      expect(plain.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('is not lifted by a right admin token', async () => {
    const token = 'correct-horse-battery';
    const guarded = await startTestServer({ LOOKALIKE_ADMIN_TOKEN: token });
    try {
      const res = await guarded.app.request('/img/drop', {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, ...EVIL }
      });
      await expectRefused(res, 'with token');
      const ok = await guarded.app.request('/img/drop', {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` }
      });
      expect(ok.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('cross-site requests from an allowed CORS origin', () => {
  let upload: Uint8Array;
  beforeAll(async () => {
    const s = await startTestServer();
    try {
      upload = await readFile((await writeScenes(join(s.imagesRoot, 'one'), 1))[0]!);
    } finally {
      await s.close();
    }
  });

  it('lets the listed origins change the collection, not others', async () => {
    const s = await startTestServer({
      LOOKALIKE_CORS_ORIGINS: 'https://app.example, https://other.example'
    });
    try {
      const from = (origin: string) =>
        s.app.request('/img/upload', {
          method: 'POST',
          headers: { Origin: origin, 'Sec-Fetch-Site': 'cross-site' },
          body: imageForm(upload)
        });
      const ok = await from('https://other.example');
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://other.example');
      await expectRefused(await from('https://evil.example'), 'evil');
      expect(await countOf(s)).toBe(1);
    } finally {
      await s.close();
    }
  });

  it("lets every origin through with '*', as the bootcamp client needs", async () => {
    const s = await startTestServer({ LOOKALIKE_CORS_ORIGINS: '*' });
    try {
      const res = await s.app.request('/img/upload', {
        method: 'POST',
        headers: { Origin: 'http://bootcamp-client.example:8001', 'Sec-Fetch-Site': 'cross-site' },
        body: imageForm(upload)
      });
      expect(res.status).toBe(200);
      const drop = await s.app.request('/img/drop', {
        method: 'POST',
        headers: { Origin: 'http://bootcamp-client.example:8001', 'Sec-Fetch-Site': 'cross-site' }
      });
      expect(drop.status).toBe(200);
      expect(await countOf(s)).toBe(0);
    } finally {
      await s.close();
    }
  });
});

/** A request with exactly this Host header, over real HTTP (fetch does not let one set Host). */
function getWithHost(
  url: string,
  host: string
): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { Host: host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] ?? '' })
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Host check (DNS rebinding)', () => {
  let s: TestServer;
  let imagePath: string;

  beforeAll(async () => {
    s = await startTestServer(); // bound to 127.0.0.1, the default
    await writeScenes(join(s.imagesRoot, 'set'), 2);
    await indexAndWait(s.app, join(s.imagesRoot, 'set'));
    const found = await s.app.request(
      '/api/search',
      jsonRequest({ vector: Array.from({ length: 128 }, () => 1) })
    );
    const { results } = (await found.json()) as { results: { id: number }[] };
    imagePath = `/api/images/${results[0]!.id}`;
  });
  afterAll(() => s.close());

  async function expectMisdirected(res: Response, what: string) {
    expect(res.status, what).toBe(421);
    const { error } = await errorOf(res);
    expect(error.code, what).toBe('misdirected_request');
    expect(error.message, what).toMatch(/LOOKALIKE_ALLOWED_HOSTS/);
  }

  it('answers 421 to a foreign host name on a loopback-bound server', async () => {
    for (const path of ['/api/index/snapshot', imagePath, '/api/health', '/']) {
      for (const host of [
        'attacker.example',
        'attacker.example:5000',
        'localhost.attacker.example'
      ]) {
        await expectMisdirected(await s.app.request(`http://${host}${path}`), `${host}${path}`);
      }
    }
  });

  it('checks the Host header a real request carries', async () => {
    const server = await listen(s.app);
    try {
      const port = new URL(server.url).port;
      const evil = await getWithHost(
        `${server.url}/api/index/snapshot`,
        `attacker.example:${port}`
      );
      expect(evil.status).toBe(421);
      expect(evil.type).toMatch(/^application\/json/);
      expect(JSON.parse(evil.body)).toMatchObject({ error: { code: 'misdirected_request' } });
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'LOCALHOST']) {
        const ok = await getWithHost(`${server.url}${imagePath}`, host);
        expect(ok.status, host).toBe(200);
      }
    } finally {
      await server.close();
    }
  });

  it('answers the loopback names, with any port', async () => {
    for (const host of [
      'localhost',
      'localhost:5000',
      '127.0.0.1',
      '127.8.9.10:1234',
      '[::1]:80'
    ]) {
      for (const path of ['/api/index/snapshot', imagePath]) {
        const res = await s.app.request(`http://${host}${path}`);
        expect(res.status, `${host}${path}`).toBe(200);
      }
    }
  });

  it('adds the names in LOOKALIKE_ALLOWED_HOSTS', async () => {
    const named = await startTestServer({
      LOOKALIKE_ALLOWED_HOSTS: 'photos.lan, Lookalike.Example:8443'
    });
    try {
      for (const host of ['photos.lan', 'photos.lan:5000', 'lookalike.example', 'localhost:5000']) {
        expect((await named.app.request(`http://${host}/api/health`)).status, host).toBe(200);
      }
      await expectMisdirected(
        await named.app.request('http://attacker.example/api/health'),
        'attacker'
      );
    } finally {
      await named.close();
    }
  });

  it('answers every name when bound to all interfaces, unless LOOKALIKE_ALLOWED_HOSTS is set', async () => {
    const open = await startTestServer({ HOST: '0.0.0.0' });
    const listed = await startTestServer({ HOST: '0.0.0.0', LOOKALIKE_ALLOWED_HOSTS: 'nas.lan' });
    const specific = await startTestServer({
      HOST: '192.168.7.20',
      LOOKALIKE_ALLOWED_HOSTS: 'nas.lan'
    });
    const everything = await startTestServer({ LOOKALIKE_ALLOWED_HOSTS: '*' });
    const ipv6Loopback = await startTestServer({ HOST: '::1' });
    const ipv6Any = await startTestServer({ HOST: '::' });
    try {
      expect((await ipv6Loopback.app.request('http://[::1]:5000/api/health')).status).toBe(200);
      await expectMisdirected(
        await ipv6Loopback.app.request('http://any.example/api/health'),
        '::1'
      );
      expect((await ipv6Any.app.request('http://any.example/api/health')).status).toBe(200);
      expect((await open.app.request('http://nas.lan/api/health')).status).toBe(200);
      expect((await open.app.request('http://any.example/api/health')).status).toBe(200);
      for (const host of ['nas.lan', '127.0.0.1:5000', 'localhost']) {
        expect((await listed.app.request(`http://${host}/api/health`)).status, host).toBe(200);
      }
      await expectMisdirected(await listed.app.request('http://any.example/api/health'), 'listed');
      await expectMisdirected(await listed.app.request('http://0.0.0.0/api/health'), '0.0.0.0');
      expect((await specific.app.request('http://192.168.7.20:5000/api/health')).status).toBe(200);
      await expectMisdirected(
        await specific.app.request('http://192.168.7.21/api/health'),
        'other address'
      );
      expect((await everything.app.request('http://any.example/api/health')).status).toBe(200);
    } finally {
      await Promise.all(
        [open, listed, specific, everything, ipv6Loopback, ipv6Any].map((s) => s.close())
      );
    }
  });
});
