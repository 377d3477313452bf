import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  downloadFile,
  ModelDownloadError,
  sha256File,
  type DownloadProgress
} from '../../server/models/download';

const SIZE = 3 * 1024 * 1024;
const CUT_AT = 1024 * 1024;
const payload = pseudoRandomBytes(SIZE);
const payloadSha = createHash('sha256').update(payload).digest('hex');

/** Every request the server saw, so tests can check Range headers and that nothing was fetched. */
const seen: { path: string; range: string | undefined }[] = [];
let server: Server;
let base = '';
let deadPort = 0;
const dirs: string[] = [];

function pseudoRandomBytes(n: number): Buffer {
  const out = Buffer.alloc(n);
  let x = 0x2545f491; // xorshift32: deterministic, and not compressible into a lucky pass
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The model file, with `Range: bytes=N-` support like a CDN. */
function serveFile(req: IncomingMessage, res: ServerResponse): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m) {
    const start = Number(m[1]);
    if (start >= SIZE) {
      res.writeHead(416, { 'content-range': `bytes */${SIZE}` }).end();
      return;
    }
    res.writeHead(206, {
      'content-length': SIZE - start,
      'content-range': `bytes ${start}-${SIZE - 1}/${SIZE}`
    });
    res.end(payload.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': SIZE }).end(payload);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  seen.push({ path: req.url ?? '', range: req.headers.range });
  switch (req.url) {
    case '/model.bin':
      return serveFile(req, res);
    case '/redirect':
      res.writeHead(302, { location: '/model.bin' }).end();
      return;
    case '/cut':
      // Promise the whole file, send the first MB, then drop the connection.
      res.writeHead(200, { 'content-length': SIZE });
      res.write(payload.subarray(0, CUT_AT), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    case '/stall':
      // Headers and a first chunk, then silence (for the idle timeout and abort tests).
      res.writeHead(200, { 'content-length': SIZE });
      res.write(payload.subarray(0, 64 * 1024));
      return;
    case '/hang':
      return; // never answers: no headers ever arrive
    default:
      res.writeHead(404).end('not found');
  }
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // A port that was free a moment ago has nothing listening: connecting is refused.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh destination (in a not-yet-existing subfolder, to check it gets created). */
async function freshDest(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-download-'));
  dirs.push(dir);
  return join(dir, 'cache', 'model.onnx');
}

async function failure(p: Promise<unknown>): Promise<ModelDownloadError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ModelDownloadError) return err;
    throw err;
  }
  throw new Error('expected downloadFile to fail');
}

describe('downloadFile', () => {
  it('downloads, verifies and renames into place', async () => {
    const dest = await freshDest();
    const progress: DownloadProgress[] = [];
    const result = await downloadFile({
      urls: [`${base}/model.bin`],
      dest,
      bytes: SIZE,
      sha256: payloadSha,
      onProgress: (p) => progress.push(p)
    });
    expect(result).toEqual({
      path: dest,
      bytes: SIZE,
      sha256: payloadSha,
      resumed: false,
      url: `${base}/model.bin`
    });
    expect(await sha256File(dest)).toBe(payloadSha);
    expect((await readFile(dest)).equals(payload)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({
      receivedBytes: SIZE,
      totalBytes: SIZE,
      resumedFrom: 0
    });
  });

  it('rejects a wrong hash and leaves nothing behind', async () => {
    const dest = await freshDest();
    const err = await failure(
      downloadFile({ urls: [`${base}/model.bin`], dest, sha256: '0'.repeat(64) })
    );
    expect(err.code).toBe('integrity');
    expect(err.message).toContain('0'.repeat(64));
    expect(err.message).toContain(payloadSha);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('rejects a wrong size', async () => {
    const dest = await freshDest();
    const err = await failure(
      downloadFile({ urls: [`${base}/model.bin`], dest, bytes: SIZE + 1, sha256: payloadSha })
    );
    expect(err.code).toBe('integrity');
    expect(err.message).toContain(String(SIZE + 1));
    expect(err.message).toContain(String(SIZE));
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('keeps the .part of a cut download and resumes it with a Range request', async () => {
    const dest = await freshDest();
    const opts = { dest, bytes: SIZE, sha256: payloadSha };
    const err = await failure(downloadFile({ ...opts, urls: [`${base}/cut`] }));
    expect(err.code).toBe('interrupted');
    expect(err.message).toMatch(/again resumes/);
    expect(existsSync(dest)).toBe(false);
    const partSize = (await stat(`${dest}.part`)).size;
    expect(partSize).toBeGreaterThan(0);
    expect(partSize).toBeLessThan(SIZE);

    const before = seen.length;
    const progress: DownloadProgress[] = [];
    const result = await downloadFile({
      ...opts,
      urls: [`${base}/model.bin`],
      onProgress: (p) => progress.push(p)
    });
    expect(seen.slice(before)).toEqual([{ path: '/model.bin', range: `bytes=${partSize}-` }]);
    expect(result.resumed).toBe(true);
    expect(result.sha256).toBe(payloadSha);
    expect(await sha256File(dest)).toBe(payloadSha);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(progress.at(-1)).toMatchObject({ receivedBytes: SIZE, resumedFrom: partSize });
  });

  it('treats 416 on a complete .part as done and verifies it', async () => {
    const dest = await freshDest();
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(`${dest}.part`, payload);
    const before = seen.length;
    const result = await downloadFile({
      urls: [`${base}/model.bin`],
      dest,
      bytes: SIZE,
      sha256: payloadSha
    });
    expect(seen.slice(before)).toEqual([{ path: '/model.bin', range: `bytes=${SIZE}-` }]);
    expect(result.resumed).toBe(true);
    expect(await sha256File(dest)).toBe(payloadSha);
  });

  it('reports HTTP errors with code http', async () => {
    const dest = await freshDest();
    const err = await failure(downloadFile({ urls: [`${base}/missing`], dest }));
    expect(err.code).toBe('http');
    expect(err.message).toBe(`HTTP 404 from ${base}/missing`);
    expect(existsSync(dest)).toBe(false);
  });

  it('falls back to the next mirror', async () => {
    const dest = await freshDest();
    const result = await downloadFile({
      urls: [`${base}/missing`, `${base}/model.bin`],
      dest,
      bytes: SIZE,
      sha256: payloadSha
    });
    expect(result.url).toBe(`${base}/model.bin`);
    expect(await sha256File(dest)).toBe(payloadSha);
  });

  it('says offline, quickly, when nothing answers', async () => {
    const dest = await freshDest();
    const started = Date.now();
    const err = await failure(
      downloadFile({ urls: [`http://127.0.0.1:${deadPort}/x`], dest, sha256: payloadSha })
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.code).toBe('offline');
    expect(err.message).toBe(
      `Could not reach 127.0.0.1:${deadPort} (ECONNREFUSED). This machine seems to be offline.`
    );
    expect(existsSync(dest)).toBe(false);
  });

  it('gives up on a server that never sends headers', async () => {
    const dest = await freshDest();
    const started = Date.now();
    const err = await failure(
      downloadFile({ urls: [`${base}/hang`], dest, connectTimeoutMs: 300 })
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.code).toBe('offline');
    expect(err.message).toContain('ETIMEDOUT');
  });

  it('stops a stalled body after the idle timeout and keeps the .part', async () => {
    const dest = await freshDest();
    const err = await failure(
      downloadFile({ urls: [`${base}/stall`], dest, bytes: SIZE, idleTimeoutMs: 300 })
    );
    expect(err.code).toBe('interrupted');
    expect(err.message).toContain('no data for 0.3 s');
    expect((await stat(`${dest}.part`)).size).toBe(64 * 1024);
  });

  it('stops on abort with code aborted', async () => {
    const dest = await freshDest();
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 200);
    const err = await failure(
      downloadFile({ urls: [`${base}/stall`], dest, bytes: SIZE, signal: ctl.signal })
    );
    expect(err.code).toBe('aborted');
    expect(existsSync(dest)).toBe(false);
    expect((await stat(`${dest}.part`)).size).toBe(64 * 1024);
  });

  it('follows redirects', async () => {
    const dest = await freshDest();
    const before = seen.length;
    const result = await downloadFile({ urls: [`${base}/redirect`], dest, sha256: payloadSha });
    expect(seen.slice(before).map((r) => r.path)).toEqual(['/redirect', '/model.bin']);
    expect(result.url).toBe(`${base}/redirect`);
    expect(await sha256File(dest)).toBe(payloadSha);
  });

  it('returns a valid file already at dest without touching the network', async () => {
    const dest = await freshDest();
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, payload);
    const before = seen.length;
    const result = await downloadFile({
      urls: [`${base}/model.bin`],
      dest,
      bytes: SIZE,
      sha256: payloadSha
    });
    expect(seen.length).toBe(before);
    expect(result).toMatchObject({ path: dest, bytes: SIZE, sha256: payloadSha, resumed: false });
  });

  it('replaces a corrupt file at dest', async () => {
    const dest = await freshDest();
    await mkdir(dirname(dest), { recursive: true });
    const corrupt = Buffer.from(payload);
    corrupt[12345] = (corrupt[12345] ?? 0) ^ 1;
    await writeFile(dest, corrupt);
    const before = seen.length;
    await downloadFile({ urls: [`${base}/model.bin`], dest, bytes: SIZE, sha256: payloadSha });
    expect(seen.length).toBe(before + 1);
    expect(await sha256File(dest)).toBe(payloadSha);
  });
});
