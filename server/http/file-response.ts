import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Context } from 'hono';
import { NotFoundError } from '../errors';
import { HttpError } from './errors';

export interface FileToSend {
  path: string;
  /** The file already opened (and checked) by the caller, sent instead of opening `path`. */
  opened?: FileHandle;
  contentType: string;
  /** Quoted entity tag, strong (`"…"`) or weak (`W/"…"`). */
  etag: string;
  cacheControl: string;
}

/** Content types of the formats sharp reports; anything else is served as opaque bytes. */
const IMAGE_TYPES: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  heif: 'image/avif',
  avif: 'image/avif'
};

export function imageContentType(format: string): string {
  return IMAGE_TYPES[format] ?? 'application/octet-stream';
}

/**
 * Streams a file with validators and ranges: ETag and 304 on If-None-Match, one byte range
 * (206 + Content-Range, 416 when it cannot be satisfied, If-Range honoured), HEAD without a body.
 * The file is opened once (or comes opened), so its size and its bytes come from the same file;
 * it is closed here either way.
 */
export async function sendFile(c: Context, file: FileToSend): Promise<Response> {
  let handle: FileHandle;
  try {
    handle = file.opened ?? (await open(file.path, 'r'));
  } catch {
    throw new NotFoundError('The file is gone');
  }
  let streaming = false;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new NotFoundError('Not a file');
    const size = info.size;
    const notModified = matchesAny(c.req.header('if-none-match'), file.etag);
    let start = 0;
    let end = size - 1;
    let status: 200 | 206 = 200;
    const rangeHeader = c.req.header('range');
    if (!notModified && rangeHeader && rangeApplies(c.req.header('if-range'), file.etag)) {
      const range = parseRange(rangeHeader, size);
      if (range === 'unsatisfiable') {
        throw new HttpError(
          416,
          'range_not_satisfiable',
          `Range ${rangeHeader} is not satisfiable for ${size} bytes`,
          { 'Content-Range': `bytes */${size}` }
        );
      }
      if (range) {
        start = range.start;
        end = range.end;
        status = 206;
      }
    }

    c.header('ETag', file.etag);
    c.header('Cache-Control', file.cacheControl);
    c.header('Last-Modified', info.mtime.toUTCString());
    c.header('Accept-Ranges', 'bytes');
    c.header('X-Content-Type-Options', 'nosniff');
    // The bytes are people's files: never let one run as a page on this origin.
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    if (notModified) return c.body(null, 304);
    c.header('Content-Type', file.contentType);
    if (status === 206) c.header('Content-Range', `bytes ${start}-${end}/${size}`);
    c.header('Content-Length', String(end - start + 1));
    if (c.req.method === 'HEAD' || size === 0) return c.body(null, status);
    const stream = handle.createReadStream({ start, end, autoClose: true });
    streaming = true;
    return c.body(Readable.toWeb(stream) as ReadableStream<Uint8Array>, status);
  } finally {
    if (!streaming) await handle.close();
  }
}

const opaque = (tag: string) => tag.trim().replace(/^W\//, '');

/** If-None-Match uses the weak comparison: `W/"x"` matches `"x"`. */
export function matchesAny(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

/** If-Range needs the strong comparison; a date or a changed tag means "send it all". */
function rangeApplies(ifRange: string | undefined, etag: string): boolean {
  if (!ifRange) return true;
  return !etag.startsWith('W/') && ifRange.trim() === etag;
}

/**
 * One `bytes=` range. Another unit, or several ranges, are ignored (the whole file is sent, which
 * RFC 9110 allows); a malformed or unsatisfiable byte range is refused with 416.
 */
export function parseRange(
  header: string,
  size: number
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const unit = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!unit) return undefined;
  const specs = unit[1]!.split(',').map((s) => s.trim());
  if (specs.length !== 1) return undefined;
  const match = /^(\d*)-(\d*)$/.exec(specs[0]!);
  if (!match || (match[1] === '' && match[2] === '')) return 'unsatisfiable';
  const [, first, last] = match;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return 'unsatisfiable';
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { start, end };
}
