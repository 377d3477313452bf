import { ServerUnreachableError } from '$lib/api/client';
import {
  BROWSER_LIMITS,
  EncodeError,
  formatMegapixels,
  type EncodeErrorCode
} from '$lib/encoder/errors';
import { blobReader, readImageSize, type ImageSize } from '$lib/encoder/image-size';

/**
 * Pictures the browser cannot decode (TIFF, HEIC in most browsers, a file its decoder rejects)
 * or cannot hold on a canvas (over BROWSER_LIMITS.maxPixels) are still pictures the server
 * indexes: the page sends them to the server's own encoder (POST /api/search/image) rather than
 * refusing them. This module decides when, and words the note; the session runs it.
 */
export type ServerEncodeReason =
  | {
      kind: 'unreadable';
      /** The format read from the file's first bytes or its type ('TIFF', 'HEIC'), if known. */
      format: string | undefined;
    }
  | {
      kind: 'too-large';
      /** From the file header, when the format has one the page can read. */
      size: ImageSize | undefined;
    };

/** What the decision needs of the failed file, so it stays a pure function. */
export interface QueryFileFacts {
  size: number;
  /** MIME type as the browser gave it ('' when unknown). */
  type: string;
  /** The file's first bytes (32 are enough). */
  head: Uint8Array;
  /** Width and height from the header, when it could be read. */
  dimensions?: ImageSize | undefined;
}

const ascii = (bytes: Uint8Array, at: number, text: string) =>
  bytes.length >= at + text.length &&
  [...text].every((char, i) => bytes[at + i] === char.charCodeAt(0));

/** HEIF brands of HEIC (HEVC-coded) pictures and of the generic HEIF image brands. */
const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
const HEIF_BRANDS = new Set(['mif1', 'msf1']);

/** The picture format a file's first bytes name, for the formats a camera or scanner writes. */
export function sniffFormat(head: Uint8Array): string | undefined {
  if (ascii(head, 0, 'II*\0') || ascii(head, 0, 'MM\0*')) return 'TIFF';
  if (head[0] === 0xff && head[1] === 0xd8) return 'JPEG';
  if (ascii(head, 1, 'PNG')) return 'PNG';
  if (ascii(head, 0, 'GIF8')) return 'GIF';
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WEBP')) return 'WebP';
  if (ascii(head, 0, 'BM')) return 'BMP';
  if (ascii(head, 4, 'ftyp')) {
    const brand = String.fromCharCode(...head.subarray(8, 12));
    if (HEIC_BRANDS.has(brand)) return 'HEIC';
    if (brand === 'avif' || brand === 'avis') return 'AVIF';
    if (HEIF_BRANDS.has(brand)) return 'HEIF';
  }
  if (ascii(head, 4, 'jP  ')) return 'JPEG 2000';
  if (ascii(head, 4, 'JXL ') || (head[0] === 0xff && head[1] === 0x0a)) return 'JPEG XL';
  return undefined;
}

/**
 * Whether a failed browser encode should go to the server's encoder, and why. Only for what
 * looks like a picture: an empty or text file gets the browser's own message (the server could
 * not read it either), and so does a file over the upload size, a crop or a model failure.
 */
export function serverEncodeReason(
  error: unknown,
  file: QueryFileFacts
): ServerEncodeReason | undefined {
  if (!(error instanceof EncodeError) || file.size === 0) return undefined;
  const code: EncodeErrorCode = error.code;
  if (code === 'too-large') {
    // The file itself is over the size the page accepts: the server takes no more.
    if (file.size > BROWSER_LIMITS.maxFileBytes) return undefined;
    return { kind: 'too-large', size: file.dimensions };
  }
  if (code !== 'not-an-image') return undefined;
  const format = sniffFormat(file.head);
  if (format) return { kind: 'unreadable', format };
  return file.type.startsWith('image/') ? { kind: 'unreadable', format: undefined } : undefined;
}

/** `serverEncodeReason` for a Blob: reads its first bytes and header size. */
export async function decideServerEncode(
  error: unknown,
  blob: Blob
): Promise<ServerEncodeReason | undefined> {
  if (!(error instanceof EncodeError)) return undefined;
  const read = blobReader(blob);
  const [head, dimensions] = await Promise.all([
    read(0, 32).catch(() => new Uint8Array()),
    readImageSize(read).catch(() => undefined)
  ]);
  return serverEncodeReason(error, { size: blob.size, type: blob.type, head, dimensions });
}

/** Why the browser could not encode it, as the end of a sentence. */
function why(reason: ServerEncodeReason): string {
  if (reason.kind === 'unreadable') {
    return reason.format && !['JPEG', 'PNG', 'GIF', 'WebP'].includes(reason.format)
      ? `this browser cannot read ${reason.format} files`
      : 'this browser could not read this picture';
  }
  const size = reason.size
    ? ` (${reason.size.width}×${reason.size.height}, ${formatMegapixels(reason.size.width * reason.size.height)})`
    : '';
  return (
    `the picture${size} is larger than a browser can decode ` +
    `(the page's limit is ${formatMegapixels(BROWSER_LIMITS.maxPixels)})`
  );
}

/** The note shown with results that the server encoded: why, and that the picture left. */
export function serverEncodeNote(reason: ServerEncodeReason): string {
  return (
    `Searched on the server: ${why(reason)}, so the picture was sent to the server to be ` +
    `encoded there (other pictures stay on this device).`
  );
}

/** Said where the crop tools would be. */
export const CROP_UNAVAILABLE =
  'Cropping is not available for this picture: the server searches it whole.';

/**
 * The server is needed and cannot be reached: the saved copy cannot help (it needs a vector,
 * and only the server can make one for this picture).
 */
export class ServerEncodeUnreachableError extends ServerUnreachableError {
  constructor(reason: ServerEncodeReason) {
    super(
      `This picture can only be searched by the server (${why(reason)}), and the server cannot ` +
        'be reached. Offline search works with JPEG, PNG, WebP, GIF and AVIF pictures up to ' +
        `${formatMegapixels(BROWSER_LIMITS.maxPixels)}.`
    );
    this.name = 'ServerEncodeUnreachableError';
  }
}
