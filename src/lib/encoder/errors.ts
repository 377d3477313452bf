/** Why a picture could not be encoded in the browser; `code` lets the page pick its message. */
export type EncodeErrorCode =
  'not-an-image' | 'too-large' | 'bad-geometry' | 'model' | 'superseded';

export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  constructor(
    readonly code: EncodeErrorCode,
    message: string
  ) {
    super(message);
  }
}

/** A newer request replaced this one (a newer picture, or the encoder was closed): not a failure to show. */
export const isSuperseded = (error: unknown): boolean =>
  error instanceof EncodeError && error.code === 'superseded';

/**
 * What the browser accepts. The file size is the server's default (LOOKALIKE_MAX_FILE_BYTES); the
 * pixel count is lower than the server's 100 MP on purpose: the whole picture is drawn onto one
 * canvas, and Chromium silently gives a blank (unallocated) canvas above ~16k pixels a side or
 * ~268 MP, while 40 MP of RGBA is already ~160 MB for the canvas plus as much again for its pixel
 * copy — a phone tab runs out of memory well before the canvas limits.
 */
export const BROWSER_LIMITS = {
  maxFileBytes: 256 * 1024 * 1024,
  maxPixels: 40_000_000
} as const;

/** "12.3 MiB": the one way the encoder and the page write file sizes in limit messages. */
export const formatMebibytes = (bytes: number) => `${Math.round((bytes / 1048576) * 10) / 10} MiB`;

/** "48 MP", "0.3 MP": the one way the encoder and the page write picture sizes in limit messages. */
export const formatMegapixels = (pixels: number) => `${Math.round(pixels / 1e5) / 10} MP`;
