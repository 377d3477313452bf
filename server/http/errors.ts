import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { ImageRejectedError } from '../embedding/image-decoder';
import {
  asStorageFull,
  BusyError,
  TooManyRequestsError,
  UserError,
  ValidationError
} from '../errors';
import type { ErrorBody } from './schemas';

/** The one error shape every endpoint answers with: ErrorSchema in schemas.ts. */
export type { ErrorBody };

/** A failure only the HTTP layer knows about (auth, body size, ranges), with optional headers. */
export class HttpError extends UserError {
  override name = 'HttpError';
  override readonly status: number;
  override readonly code: string;
  constructor(
    status: number,
    code: string,
    message: string,
    readonly headers: Record<string, string> = {}
  ) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Every body except uploads. */
export const JSON_LIMIT_BYTES = 1024 * 1024;

export const payloadTooLarge = (limitBytes: number, headers: Record<string, string> = {}) =>
  new HttpError(
    413,
    'payload_too_large',
    `Request body is over the ${formatBytes(limitBytes)} limit` +
      (limitBytes === JSON_LIMIT_BYTES ? '' : ' (LOOKALIKE_MAX_UPLOAD_BYTES)'),
    headers
  );

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / 1048576) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KiB`;
  return `${bytes} bytes`;
}

/** zod issues as one readable line: `topK: Too big: expected number to be <=100; …`. */
export function describeZodError(error: ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => {
      const where = issue.path.map(String).join('.');
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Decoder rejections are the client's fault: a file that is not (or not a usable) image. */
function fromImageRejection(error: ImageRejectedError): HttpError {
  if (error.reason === 'file-too-large')
    return new HttpError(413, 'payload_too_large', error.message);
  return new HttpError(400, 'invalid_image', `Not a usable image: ${error.message}`);
}

const HTTP_CODES: Partial<Record<number, string>> = {
  400: 'invalid_request',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type'
};

/**
 * The app's one error handler: expected failures keep their status and code, validation failures
 * are 400 `invalid_request`, anything else is logged with its stack and answered as a bare 500.
 */
export function handleError(error: Error, c: Context, log: Logger): Response {
  const reply = (
    status: number,
    code: string,
    message: string,
    headers?: Record<string, string>
  ) => {
    for (const [name, value] of Object.entries(headers ?? {})) c.header(name, value);
    return c.json({ error: { code, message } } satisfies ErrorBody, status as ContentfulStatusCode);
  };
  if (error instanceof ImageRejectedError) error = fromImageRejection(error);
  if (error instanceof ZodError) error = new ValidationError(describeZodError(error));
  // A full disk is the operator's to fix, not a bug: 507 with the reason, whichever store hit it.
  error = asStorageFull(error) as Error;

  if (error instanceof UserError) {
    const headers: Record<string, string> = error instanceof HttpError ? { ...error.headers } : {};
    if (error instanceof BusyError || error instanceof TooManyRequestsError)
      headers['Retry-After'] = String(error.retryAfterSeconds);
    if (error.status >= 500 && !(error instanceof BusyError)) {
      log.error({ err: error }, error.message);
    }
    return reply(error.status, error.code, error.message, headers);
  }
  if (error instanceof HTTPException) {
    // A middleware's own reply (bearer auth), already in the common shape.
    if (error.res) {
      const res = error.getResponse();
      return c.newResponse(res.body, res);
    }
    // Hono's own (malformed JSON, unsupported media type): keep the status, use our shape.
    const status = error.status;
    const message = error.message || error.getResponse().statusText || 'Request failed';
    return reply(status, HTTP_CODES[status] ?? 'http_error', message);
  }
  log.error({ err: error }, 'unhandled error');
  return reply(500, 'internal', 'Internal server error');
}

export function notFoundBody(c: Context): ErrorBody {
  return { error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}` } };
}
