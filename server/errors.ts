/**
 * A failure the person can fix (bad flag, unknown model, missing file, offline, bad request):
 * shown as one line without a stack trace, and over HTTP as `{ error: { code, message } }` with
 * `status`. Anything else is a bug and keeps its stack (and is a 500 without details).
 */
export class UserError extends Error {
  override name = 'UserError';
  /** HTTP status when this reaches a client. */
  readonly status: number = 400;
  /** Stable machine-readable code for clients. */
  readonly code: string = 'bad_request';
}

export class ValidationError extends UserError {
  override name = 'ValidationError';
  override readonly code = 'invalid_request';
}

export class NotFoundError extends UserError {
  override name = 'NotFoundError';
  override readonly status = 404;
  override readonly code = 'not_found';
}

/** A path outside the configured image roots, or one that escapes them through a symlink. */
export class ForbiddenPathError extends UserError {
  override name = 'ForbiddenPathError';
  override readonly status = 403;
  override readonly code = 'path_not_allowed';
}

/** The collection was built by another model (or another dimension). */
export class CollectionMismatchError extends UserError {
  override name = 'CollectionMismatchError';
  override readonly status = 409;
  override readonly code = 'collection_model_mismatch';
}

/** Too much work in flight: the client should retry after `retryAfterSeconds`. */
export class BusyError extends UserError {
  override name = 'BusyError';
  override readonly status = 503;
  override readonly code = 'busy';
  constructor(
    message: string,
    readonly retryAfterSeconds = 1
  ) {
    super(message);
  }
}

/** Too many requests of one kind (e.g. event streams for one job): retry after `retryAfterSeconds`. */
export class TooManyRequestsError extends UserError {
  override name = 'TooManyRequestsError';
  override readonly status = 429;
  override readonly code = 'too_many_requests';
  constructor(
    message: string,
    readonly retryAfterSeconds = 1
  ) {
    super(message);
  }
}

/** A store (MySQL, Milvus) does not answer; the request may succeed once it is back. */
export class StoreUnavailableError extends UserError {
  override name = 'StoreUnavailableError';
  override readonly status = 503;
  override readonly code = 'store_unavailable';
}

/**
 * The disk holding the data (or the database) is full, or over quota: the request may succeed
 * once space is freed. HTTP 507 Insufficient Storage.
 */
export class StorageFullError extends UserError {
  override name = 'StorageFullError';
  override readonly status = 507;
  override readonly code = 'storage_full';
}

/** How a StorageFullError's message starts, and so a job that failed for one. */
export const DISK_FULL = 'disk full: ';

/** SQLite (libsql), Node's fs and MySQL ways of saying "no space". */
const STORAGE_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', 'ER_RECORD_FILE_FULL']);
const STORAGE_FULL_MESSAGE =
  /no space left on device|disk quota exceeded|database or disk is full/i;

/**
 * `error` as a StorageFullError ("disk full: …") when it, or an error it wraps, says the disk is
 * full; otherwise `error` itself. The one place that knows the stores' codes for it.
 */
export function asStorageFull(error: unknown): unknown {
  if (error instanceof StorageFullError) return error;
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
    const text = typeof message === 'string' ? message : '';
    if (
      (typeof code === 'string' && STORAGE_FULL_CODES.has(code)) ||
      STORAGE_FULL_MESSAGE.test(text)
    ) {
      return new StorageFullError(
        `${DISK_FULL}${text || String(code)}; free some space and try again`,
        { cause: error }
      );
    }
    e = cause;
  }
  return error;
}
