/** Why a picture could not be encoded in the browser; `code` lets the page pick its message. */
export type EncodeErrorCode = 'not-an-image' | 'too-large' | 'bad-geometry' | 'model';

export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  constructor(
    readonly code: EncodeErrorCode,
    message: string
  ) {
    super(message);
  }
}

/**
 * What the browser accepts, the server's defaults (LOOKALIKE_MAX_FILE_BYTES, LOOKALIKE_MAX_PIXELS),
 * so any picture the server would index can also be a query.
 */
export const BROWSER_LIMITS = {
  maxFileBytes: 256 * 1024 * 1024,
  maxPixels: 100_000_000
} as const;
