import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { JSON_LIMIT_BYTES, payloadTooLarge } from '../errors';

/** Room for the multipart envelope (boundaries, part headers, small fields) around the file. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/**
 * The answer goes out before the body is read, so the connection closes after it: a client that
 * reused it while the server still drains the rest of the body would see it drop.
 */
const CLOSE = { Connection: 'close' };

/**
 * Caps request bodies before anything reads them: uploads (the multipart routes in
 * `uploadPaths`) at `maxUploadBytes`, every other body at 1 MiB. Over the cap: 413.
 */
export function bodyLimits(options: {
  maxUploadBytes: number;
  uploadPaths: readonly string[];
}): MiddlewareHandler {
  const uploads = new Set(options.uploadPaths);
  const forUploads = bodyLimit({
    maxSize: options.maxUploadBytes + MULTIPART_OVERHEAD_BYTES,
    onError: () => {
      throw payloadTooLarge(options.maxUploadBytes, CLOSE);
    }
  });
  const forJson = bodyLimit({
    maxSize: JSON_LIMIT_BYTES,
    onError: () => {
      throw payloadTooLarge(JSON_LIMIT_BYTES, CLOSE);
    }
  });
  return (c, next) => (uploads.has(c.req.path) ? forUploads(c, next) : forJson(c, next));
}
