import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isAllowedAddress,
  mappedIpv4,
  parseNetworks,
  UrlDownloader,
  type UrlDownloadOptions
} from '../../server/services/url-download';
import { scene } from '../helpers/images';
import { errorOf, startTestServer, type TestServer } from './helpers';

/**
 * `/img/upload?url=`: the later original (milvus-io/bootcamp main.py) took `url` instead of a file
 * and fetched it with urlretrieve — anything, from anywhere. Lookalike fetches it safely; a local
 * HTTP server on 127.0.0.1 (allowed through LOOKALIKE_URL_ALLOWED_NETWORKS) plays the web.
 */

let web: Server;
let base: string;
let port: number;
let picture: Uint8Array;
/** Host headers the local server received. */
const hosts: string[] = [];

function route(req: IncomingMessage, res: ServerResponse) {
  hosts.push(req.headers.host ?? '');
  const url = new URL(req.url ?? '/', 'http://x');
  const to = url.searchParams.get('to');
  switch (url.pathname) {
    case '/cat.jpg':
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(picture);
      return;
    case '/redirect':
      res.writeHead(302, { location: to ?? '/cat.jpg' }).end();
      return;
    case '/loop':
      res.writeHead(301, { location: '/loop' }).end();
      return;
    case '/notes.txt':
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end('not a picture at all');
      return;
    case '/big-declared':
      res.writeHead(200, { 'content-length': String(10_000) }).end(Buffer.alloc(10_000));
      return;
    case '/big-streamed': {
      // No length: the limit must hold while the body streams in.
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const chunk = Buffer.alloc(1024);
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed || sent > 100_000) {
          clearInterval(timer);
          res.end();
          return;
        }
        sent += chunk.length;
        res.write(chunk);
      }, 1);
      return;
    }
    case '/slow':
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.write(Buffer.from(picture).subarray(0, 10)); // headers and a trickle, then nothing
      return;
    case '/missing':
      res.writeHead(404).end('nope');
      return;
    default:
      res.writeHead(500).end();
  }
}

beforeAll(async () => {
  picture = await scene(90, 60, 4711);
  web = createServer(route);
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  port = (web.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  web.closeAllConnections();
  await new Promise((resolve) => web.close(resolve));
});

const downloader = (options: Partial<UrlDownloadOptions> = {}) =>
  new UrlDownloader({
    maxBytes: 5000,
    timeoutMs: 2000,
    maxRedirects: 3,
    maxConcurrent: 4,
    allowed: parseNetworks('127.0.0.1'),
    ...options
  });

/** The error a download fails with: its class name and code. */
async function refusal(url: string, options: Partial<UrlDownloadOptions> = {}) {
  try {
    await downloader(options).download(url);
  } catch (error) {
    const { name, code, status } = error as { name: string; code?: string; status?: number };
    return { name, code, status };
  }
  throw new Error(`${url} was downloaded`);
}

describe('which addresses the server may fetch from', () => {
  const none = parseNetworks('');

  it('refuses loopback, private, link-local, metadata and other special addresses', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254', // cloud metadata
      '100.64.0.1',
      '0.0.0.0',
      '255.255.255.255',
      '224.0.0.1',
      '::',
      '::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe', // 169.254.169.254, mapped
      '::ffff:10.0.0.1',
      '::127.0.0.1', // IPv4-compatible (deprecated)
      'fe80::1',
      'fe80::1%eth0',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '64:ff9b::a9fe:a9fe', // NAT64 of the metadata address
      '2002:7f00:1::', // 6to4 of 127.0.0.1
      '2001:db8::1',
      '2001::1' // Teredo
    ]) {
      expect(isAllowedAddress(address, none), address).toBe(false);
    }
  });

  it('allows public addresses, and private ones only through the allow-list', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
      expect(isAllowedAddress(address, none), address).toBe(true);
    const allowed = parseNetworks('127.0.0.1, 10.0.0.0/8 fd00::/8');
    expect(isAllowedAddress('127.0.0.1', allowed)).toBe(true);
    expect(isAllowedAddress('::ffff:127.0.0.1', allowed)).toBe(true);
    expect(isAllowedAddress('127.0.0.2', allowed)).toBe(false);
    expect(isAllowedAddress('10.200.0.1', allowed)).toBe(true);
    expect(isAllowedAddress('fd00::5', allowed)).toBe(true);
    expect(isAllowedAddress('::1', allowed)).toBe(false);
    expect(isAllowedAddress('169.254.169.254', allowed)).toBe(false);
  });

  it('reads IPv4-mapped IPv6 in both spellings', () => {
    expect(mappedIpv4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(mappedIpv4('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(mappedIpv4('0:0:0:0:0:ffff:a9fe:a9fe')).toBe('169.254.169.254');
    expect(mappedIpv4('2001:db8::1')).toBeUndefined();
    expect(mappedIpv4('127.0.0.1')).toBeUndefined();
  });

  it('refuses a malformed allow-list', () => {
    expect(() => parseNetworks('10.0.0.0/33')).toThrow(/LOOKALIKE_URL_ALLOWED_NETWORKS/);
    expect(() => parseNetworks('intranet.local')).toThrow(/not an address/);
  });
});

describe('UrlDownloader', () => {
  it('downloads a picture from an allowed address', async () => {
    const bytes = await downloader().download(`${base}/cat.jpg`);
    expect(Buffer.from(bytes).equals(Buffer.from(picture))).toBe(true);
  });

  it('refuses schemes other than http and https, and credentials in the URL', async () => {
    for (const url of [
      'file:///etc/passwd',
      'ftp://127.0.0.1/cat.jpg',
      'data:image/png;base64,AAAA',
      'javascript:alert(1)',
      'gopher://127.0.0.1:6379/_INFO',
      'not a url',
      `http://user:secret@127.0.0.1:${port}/cat.jpg`
    ]) {
      expect(await refusal(url), url).toMatchObject({ code: 'url_not_allowed', status: 400 });
    }
  });

  it('refuses loopback, private and metadata addresses, however spelled', async () => {
    const none = { allowed: parseNetworks('') };
    for (const url of [
      `${base}/cat.jpg`,
      `http://localhost:${port}/cat.jpg`,
      `http://[::1]:${port}/cat.jpg`,
      `http://[::ffff:127.0.0.1]:${port}/cat.jpg`,
      `http://[::ffff:7f00:1]:${port}/cat.jpg`,
      `http://2130706433:${port}/cat.jpg`, // 127.0.0.1 as one number
      `http://0x7f.1:${port}/cat.jpg`,
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:169.254.169.254]/latest/meta-data/',
      'http://10.0.0.1/cat.jpg',
      'http://192.168.0.1/cat.jpg',
      'http://[fe80::1]/cat.jpg',
      'https://0.0.0.0/cat.jpg'
    ]) {
      expect(await refusal(url, none), url).toMatchObject({ code: 'url_not_allowed' });
    }
    // With 127.0.0.1 allowed, its neighbours and ::1 still are not.
    expect(await refusal(`http://127.0.0.2:${port}/cat.jpg`)).toMatchObject({
      code: 'url_not_allowed'
    });
    expect(await refusal(`http://[::1]:${port}/cat.jpg`)).toMatchObject({
      code: 'url_not_allowed'
    });
  });

  it('refuses a host name when any of its addresses is not allowed', async () => {
    const resolveHost = () =>
      Promise.resolve([
        { address: '127.0.0.1', family: 4 },
        { address: '10.0.0.7', family: 4 }
      ]);
    expect(await refusal(`http://mixed.invalid:${port}/cat.jpg`, { resolveHost })).toMatchObject({
      code: 'url_not_allowed'
    });
  });

  it('connects to the address it checked: the name is resolved once, never again (no rebinding)', async () => {
    const answers = ['127.0.0.1', '10.0.0.1'];
    let asked = 0;
    const resolveHost = () => {
      const address = answers[Math.min(asked++, answers.length - 1)]!;
      return Promise.resolve([{ address, family: 4 }]);
    };
    hosts.length = 0;
    // `rebind.invalid` does not resolve anywhere: only the checked address can have been used.
    const bytes = await downloader({ resolveHost }).download(
      `http://rebind.invalid:${port}/cat.jpg`
    );
    expect(bytes.length).toBe(picture.length);
    expect(asked).toBe(1);
    expect(hosts).toEqual([`rebind.invalid:${port}`]);
  });

  it('follows redirects, checking each target', async () => {
    const ok = await downloader().download(`${base}/redirect?to=/cat.jpg`);
    expect(ok.length).toBe(picture.length);
    for (const to of [
      `http://127.0.0.2:${port}/cat.jpg`,
      'http://169.254.169.254/latest/meta-data/',
      `http://[::1]:${port}/cat.jpg`,
      'file:///etc/passwd'
    ]) {
      expect(await refusal(`${base}/redirect?to=${encodeURIComponent(to)}`), to).toMatchObject({
        code: 'url_not_allowed'
      });
    }
    expect(await refusal(`${base}/loop`)).toMatchObject({ code: 'download_failed', status: 400 });
  });

  it('refuses bodies over the size limit, declared or streamed', async () => {
    for (const path of ['/big-declared', '/big-streamed'])
      expect(await refusal(`${base}${path}`), path).toMatchObject({
        code: 'payload_too_large',
        status: 413
      });
  });

  it('gives up on a slow server', async () => {
    const started = Date.now();
    expect(await refusal(`${base}/slow`, { timeoutMs: 300 })).toMatchObject({
      code: 'download_timeout',
      status: 400
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports error statuses and unreachable servers as failed downloads', async () => {
    expect(await refusal(`${base}/missing`)).toMatchObject({ code: 'download_failed' });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await refusal(`http://127.0.0.1:${closedPort}/cat.jpg`)).toMatchObject({
      code: 'download_failed',
      status: 400
    });
  });

  it('refuses more downloads at once than allowed', async () => {
    const d = downloader({ maxConcurrent: 1, timeoutMs: 500 });
    const slow = d.download(`${base}/slow`).catch((error: unknown) => error);
    await expect(d.download(`${base}/cat.jpg`)).rejects.toMatchObject({ code: 'busy' });
    await slow;
    expect((await d.download(`${base}/cat.jpg`)).length).toBe(picture.length);
  });
});

describe('POST /img/upload with a url', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({ LOOKALIKE_URL_ALLOWED_NETWORKS: '127.0.0.1' });
  });

  afterAll(() => s.close());

  const upload = (query: string, body?: FormData) =>
    s.app.request(`/img/upload${query}`, { method: 'POST', body });
  const uploads = () => readdir(join(s.dataDir, 'uploads')).catch(() => [] as string[]);

  it('downloads the picture, saves and indexes it like an upload', async () => {
    const res = await upload(`?url=${encodeURIComponent(`${base}/cat.jpg`)}`);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as string;
    expect(answer).toMatch(/^Successfully loaded data: \d+$/);
    const id = Number(answer.split(': ')[1]);
    const hash = createHash('sha256').update(picture).digest('hex');
    const file = join(s.dataDir, 'uploads', `${hash}.jpg`);
    expect((await stat(file)).size).toBe(picture.length);
    expect((await s.runtime.collection.getImage(id))!.paths).toEqual([file]);
    expect(await (await s.app.request('/img/count', { method: 'POST' })).json()).toBe(1);

    // As a form field too; the same picture again is the same id.
    const form = new FormData();
    form.append('url', `${base}/redirect?to=/cat.jpg`);
    const again = await upload('', form);
    expect(await again.json()).toBe(answer);
  });

  it('refuses what is not a picture, and saves nothing', async () => {
    const before = await uploads();
    const res = await upload(`?url=${encodeURIComponent(`${base}/notes.txt`)}`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).error.code).toBe('invalid_image');
    expect(await uploads()).toEqual(before);
  });

  it('refuses addresses outside the allow-list, with the reason', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      `http://127.0.0.2:${port}/cat.jpg`,
      `${base}/redirect?to=${encodeURIComponent('http://10.0.0.1/x.jpg')}`
    ]) {
      const res = await upload(`?url=${encodeURIComponent(url)}`);
      expect(res.status, url).toBe(400);
      const { error } = await errorOf(res);
      expect(error.code).toBe('url_not_allowed');
      expect(error.message).toMatch(/not a public address/);
    }
    const missing = await upload(`?url=${encodeURIComponent(`${base}/missing`)}`);
    expect(missing.status).toBe(400);
    expect((await errorOf(missing)).error.code).toBe('download_failed');
  });

  it('needs an image or a url, as the original said', async () => {
    const res = await upload('');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).error.message).toMatch(/Image and url are required/);
    const empty = await upload('', new FormData());
    expect(empty.status).toBe(400);
  });
});
