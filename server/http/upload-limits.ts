import type { MiddlewareHandler } from 'hono';
import { ByteBudget } from '../services/encode-limiter';
import { payloadTooLarge } from './errors';

/** The bytes of an uploaded file, refused with 413 when over the upload cap. */
export async function checkUploadSize(file: File, maxBytes: number): Promise<Uint8Array> {
  if (file.size > maxBytes) throw payloadTooLarge(maxBytes);
  return new Uint8Array(await file.arrayBuffer());
}

/** Multipart routes: their bodies may be as large as the upload cap; others 1 MiB. */
export const UPLOAD_PATHS = [
  '/api/search/image',
  '/api/encode',
  '/img/upload',
  '/img/search'
] as const;

/** Room for the multipart envelope (boundaries, part headers, small fields) around the file. */
const ENVELOPE_BYTES = 64 * 1024;

/**
 * Bounds the upload bytes in memory: before an upload's body is read, its size (Content-Length,
 * or the cap when it is not given) is claimed from a budget of `encodeConcurrency` full-size
 * uploads, and held until the answer is ready. Uploads that do not fit wait unread (their
 * senders are held back by TCP), at most `encodeQueue` of them; beyond that, 503 + Retry-After
 * before a byte is read. Small uploads share the budget, so they go through beside a large one.
 */
export function uploadBudget(options: {
  maxUploadBytes: number;
  encodeConcurrency: number;
  encodeQueue: number;
  uploadPaths: readonly string[];
}): MiddlewareHandler {
  const paths = new Set(options.uploadPaths);
  const fullSize = options.maxUploadBytes + ENVELOPE_BYTES;
  const budget = new ByteBudget({
    capacity: options.encodeConcurrency * fullSize,
    queue: options.encodeQueue
  });
  return async (c, next) => {
    if (c.req.method !== 'POST' || !paths.has(c.req.path)) return next();
    const declared = Number(c.req.header('content-length') ?? NaN);
    const bytes = Number.isSafeInteger(declared) && declared >= 0 ? declared : fullSize;
    // Refused (503) before its body is read: the server discards what the client still sends
    // (@hono/node-server drains at most 64 MiB for 500 ms, then closes), keeping nothing of it.
    const giveBack = await budget.claim(bytes, c.req.raw.signal);
    try {
      await next();
      // Answered before the body was read (a refused query or token): read the rest first, so
      // the sender finishes and gets the answer. Closing a socket with unread bytes makes TCP
      // reset it, which can take the answer with it; @hono/node-server drains for only 500 ms.
      if (!c.req.raw.bodyUsed) await discard(c.req.raw, DISCARD_TIMEOUT_MS);
    } finally {
      giveBack();
    }
  };
}

/** How long an unread upload body is read and thrown away before the answer goes anyway. */
const DISCARD_TIMEOUT_MS = 10_000;

/** Reads a body to its end and drops it (its size is capped by bodyLimits), or stops at `ms`. */
async function discard(request: Request, ms: number): Promise<void> {
  const reader = request.body?.getReader();
  if (!reader) return;
  const timer = setTimeout(() => void reader.cancel().catch(() => undefined), ms);
  try {
    while (!(await reader.read()).done);
  } catch {
    // The client went away, or the body was over the cap: nothing left to wait for.
  } finally {
    clearTimeout(timer);
  }
}
