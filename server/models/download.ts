import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { claimFile } from '../file-claim';
import { UserError } from '../errors';

/**
 * Resumable, verified download of a model file from a list of mirrors.
 *
 * Bytes go to `<dest>.part` and only become `<dest>` (by an atomic rename) once size and SHA-256
 * check out, so a half-written or tampered file is never mistaken for a model. A cut download
 * keeps its .part and the next call continues it with a Range request.
 */

export interface DownloadProgress {
  /** Bytes in the .part so far, including any resumed prefix. */
  receivedBytes: number;
  totalBytes: number | undefined;
  /** Where this run started; receivedBytes - resumedFrom is what came over the network. */
  resumedFrom: number;
  url: string;
}

export interface DownloadOptions {
  /** Mirrors, tried in order. */
  urls: readonly string[];
  /** Final path, e.g. `<cache>/resnet50.onnx`. */
  dest: string;
  /** Expected size in bytes. */
  bytes?: number;
  /** Expected SHA-256, hex. */
  sha256?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Time allowed until the response headers arrive. Default 15 000. */
  connectTimeoutMs?: number;
  /** Longest allowed gap between two body chunks. Default 30 000. */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export type ModelDownloadErrorCode =
  | 'offline'
  | 'http'
  | 'integrity'
  | 'interrupted'
  | 'aborted'
  /** Another live process is downloading the same file (a first `serve`, `model fetch`). */
  | 'busy';

export class ModelDownloadError extends UserError {
  override readonly name = 'ModelDownloadError';
  override readonly code: ModelDownloadErrorCode;
  constructor(code: ModelDownloadErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  resumed: boolean;
  /** The mirror that served the file; '' when a valid file was already at dest. */
  url: string;
}

/** Streaming SHA-256 (hex) of a file, so a 100 MB model is never held in memory. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function downloadFile(opts: DownloadOptions): Promise<DownloadResult> {
  const { dest } = opts;
  const part = `${dest}.part`;
  const want = opts.sha256?.toLowerCase();
  if (opts.urls.length === 0) throw new TypeError('downloadFile: no URLs given');

  // A valid file already in place needs no network at all.
  const existing = await sizeOf(dest);
  if (existing !== undefined && (opts.bytes === undefined || existing === opts.bytes)) {
    const sha = await sha256File(dest);
    if (want === undefined || sha === want) {
      return { path: dest, bytes: existing, sha256: sha, resumed: false, url: '' };
    }
  }
  await mkdir(dirname(dest), { recursive: true });
  const release = await claimPart(part, dest);
  try {
    return await fromMirrors(opts, part, want);
  } finally {
    await release();
  }
}

/**
 * Claims `<part>.lock`: two downloads of one file (a first `serve` and a `model fetch` beside it,
 * or two callers in one process) would write into the same .part and ruin it. A claim whose
 * process is gone is taken over; a live one, this process's own included, is refused with what
 * to do.
 */
async function claimPart(part: string, dest: string): Promise<() => Promise<void>> {
  const claim = await claimFile(`${part}.lock`, { shareWithinProcess: false });
  if (claim.claimed) return claim.release;
  const { host, pid, thisProcess, otherHost } = claim.holder;
  const who = thisProcess
    ? 'This process'
    : otherHost
      ? `A process on ${host}, pid ${pid},`
      : `Process ${pid}`;
  throw new ModelDownloadError(
    'busy',
    `${who} is downloading ${dest} already: wait for it to finish (or stop it), then run this again.`
  );
}

async function fromMirrors(
  opts: DownloadOptions,
  part: string,
  want: string | undefined
): Promise<DownloadResult> {
  const { dest } = opts;
  const failures: Failure[] = [];
  for (const url of opts.urls) {
    const got = await fromMirror(url, part, opts);
    if ('failed' in got) {
      failures.push(got.failed);
      continue;
    }
    // Verify the whole .part, resumed prefix included; a bad file is deleted, not resumed later.
    const size = (await sizeOf(part)) ?? 0;
    if (opts.bytes !== undefined && size !== opts.bytes) {
      await rm(part, { force: true });
      throw new ModelDownloadError(
        'integrity',
        `${url} gave ${size} bytes, expected ${opts.bytes}. The partial file was deleted.`
      );
    }
    const sha = await sha256File(part);
    if (want !== undefined && sha !== want) {
      await rm(part, { force: true });
      throw new ModelDownloadError(
        'integrity',
        `${url} gave a file with SHA-256 ${sha}, expected ${want}. The partial file was deleted.`
      );
    }
    await rename(part, dest);
    return { path: dest, bytes: size, sha256: sha, resumed: got.resumed, url };
  }
  throw allFailed(failures);
}

/** Why one mirror gave nothing: an HTTP status, or a network error code before any response. */
interface Failure {
  url: string;
  status?: number;
  code?: string;
  cause?: unknown;
}

/**
 * One mirror: a Range request if a .part exists, falling back to a download from zero when the
 * answer does not fit the .part. Returns `{ failed }` to move on to the next mirror; throws
 * 'interrupted' / 'aborted' once the body has started, since the .part is what a retry needs.
 */
async function fromMirror(
  url: string,
  part: string,
  opts: DownloadOptions
): Promise<{ resumed: boolean } | { failed: Failure }> {
  let offset = (await sizeOf(part)) ?? 0;
  if (opts.bytes !== undefined && offset > opts.bytes) offset = 0; // longer than the file: junk
  for (;;) {
    if (opts.signal?.aborted) throw aborted(opts.signal.reason);
    if (offset === 0) await rm(part, { force: true });
    const ctl = new AbortController();
    let why: 'connect' | 'idle' | 'user' | undefined;
    const stop = (reason: 'connect' | 'idle' | 'user') => {
      why ??= reason;
      ctl.abort();
    };
    const onUserAbort = () => stop('user');
    opts.signal?.addEventListener('abort', onUserAbort, { once: true });
    let timer = setTimeout(() => stop('connect'), opts.connectTimeoutMs ?? 15_000);
    try {
      let res: Response;
      try {
        // fetch follows redirects (Hugging Face answers 302 to its CDN) and keeps the Range header.
        const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
        res = await fetch(url, { headers, signal: ctl.signal });
      } catch (err) {
        if (why === 'user') throw aborted(err);
        return {
          failed: { url, code: why === 'connect' ? 'ETIMEDOUT' : errorCode(err), cause: err }
        };
      }
      clearTimeout(timer);

      const report = (received: number, total: number | undefined, start: number) =>
        opts.onProgress?.({ receivedBytes: received, totalBytes: total, resumedFrom: start, url });
      // The .part already holds the whole file: the server has nothing after its last byte.
      if (res.status === 416 && offset > 0 && offset === opts.bytes) {
        await res.body?.cancel();
        report(offset, opts.bytes, offset);
        return { resumed: true };
      }
      const append = res.status === 206 && offset > 0 && rangeStart(res) === offset;
      if (!append && offset > 0 && (res.status === 206 || res.status === 416)) {
        await res.body?.cancel(); // a range we did not ask for, or the .part is wrong: start over
        offset = 0;
        continue;
      }
      if (!append && res.status !== 200) {
        await res.body?.cancel();
        return { failed: { url, status: res.status } };
      }

      const start = append ? offset : 0;
      const length = contentLength(res);
      const total = length !== undefined ? start + length : opts.bytes;
      let received = start;
      let lastReport = 0;
      const idleMs = opts.idleTimeoutMs ?? 30_000;
      timer = setTimeout(() => stop('idle'), idleMs);
      const body = res.body
        ? Readable.fromWeb(res.body as unknown as NodeReadableStream<Uint8Array>)
        : Readable.from([]);
      try {
        // pipeline gives backpressure: a slow disk pauses the socket instead of filling memory.
        await pipeline(
          body,
          async function* (source: AsyncIterable<Uint8Array>) {
            for await (const chunk of source) {
              clearTimeout(timer);
              timer = setTimeout(() => stop('idle'), idleMs);
              received += chunk.length;
              if (Date.now() - lastReport >= 100) {
                lastReport = Date.now();
                report(received, total, start);
              }
              yield chunk;
            }
          },
          createWriteStream(part, { flags: append ? 'a' : 'w' })
        );
      } catch (err) {
        if (why === 'user') throw aborted(err);
        throw await interrupted(
          url,
          part,
          total,
          why === 'idle' ? `no data for ${idleMs / 1000} s` : errorCode(err),
          err
        );
      }
      // Normally fetch itself errors on a short body; this catches servers that close cleanly.
      if (length !== undefined && received - start < length) {
        throw await interrupted(url, part, total, 'connection closed early');
      }
      report(received, total, start);
      return { resumed: append };
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onUserAbort);
    }
  }
}

function allFailed(failures: Failure[]): ModelDownloadError {
  const cause = failures.at(-1)?.cause;
  // Any HTTP answer means the network works: report statuses, not "offline".
  if (failures.some((f) => f.status !== undefined)) {
    const parts = failures.map((f) =>
      f.status !== undefined
        ? `HTTP ${f.status} from ${f.url}`
        : `could not reach ${host(f.url)} (${f.code})`
    );
    const message = parts.join('; ');
    return new ModelDownloadError('http', message.charAt(0).toUpperCase() + message.slice(1), {
      cause
    });
  }
  const hosts = [...new Set(failures.map((f) => host(f.url)))].join(', ');
  const codes = [...new Set(failures.map((f) => f.code))].join(', ');
  return new ModelDownloadError(
    'offline',
    `Could not reach ${hosts} (${codes}). This machine seems to be offline.`,
    { cause }
  );
}

async function interrupted(
  url: string,
  part: string,
  total: number | undefined,
  reason: string,
  cause?: unknown
): Promise<ModelDownloadError> {
  const have = (await sizeOf(part)) ?? 0;
  const of = total !== undefined ? ` of ${mb(total)}` : '';
  return new ModelDownloadError(
    'interrupted',
    `Download from ${url} was interrupted after ${mb(have)}${of} (${reason}). ` +
      `The partial file is kept; running the command again resumes it.`,
    { cause }
  );
}

function aborted(cause: unknown): ModelDownloadError {
  return new ModelDownloadError('aborted', 'Download aborted; the partial file is kept.', {
    cause
  });
}

/**
 * The first string `code` along the cause chain (undici wraps socket errors in "fetch failed"),
 * else the innermost message, e.g. "bad port".
 */
function errorCode(err: unknown): string {
  let e: unknown = err;
  let message = String(err);
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code === 'UND_ERR_SOCKET' ? 'connection closed' : code;
    message = e.message;
    e = e instanceof AggregateError && e.cause === undefined ? e.errors[0] : e.cause;
  }
  return typeof e === 'string' ? e : message;
}

function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/** Content-Length of the body as delivered; unknown when the transport decompresses it. */
function contentLength(res: Response): number | undefined {
  const encoding = res.headers.get('content-encoding');
  if (encoding !== null && encoding !== 'identity') return undefined;
  const raw = res.headers.get('content-length');
  return raw !== null && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
