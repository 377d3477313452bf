import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { NotFoundError } from '../errors';
import type { ImageWithPaths } from '../stores/catalog';
import type { ImageRoots } from './image-roots';

export interface ThumbnailOptions {
  /** Cache folder, `<dataDir>/thumbs`. */
  dir: string;
  /** Pixel limit for decoding (config.maxPixels). */
  maxPixels: number;
  /** Longest side of a thumbnail. */
  size?: number;
}

export const THUMB_SIZE = 320;
const HASH = /^[0-9a-f]{64}$/;

/**
 * WebP thumbnails, made once per picture with sharp (EXIF orientation applied, at most `size`
 * pixels on the long side) and cached by content hash, so every copy of a picture shares one and
 * a cached file never goes stale. Concurrent requests for the same picture share one generation.
 */
export class Thumbnails {
  private readonly inFlight = new Map<string, Promise<string>>();
  readonly size: number;

  constructor(private readonly options: ThumbnailOptions) {
    this.size = options.size ?? THUMB_SIZE;
  }

  /** Where the thumbnail of this content lives (whether or not it exists yet). */
  pathFor(contentHash: string): string {
    if (!HASH.test(contentHash)) throw new Error(`Not a content hash: ${contentHash}`);
    return join(this.options.dir, `${contentHash}.webp`);
  }

  /**
   * The cached thumbnail's path, generating it first if needed. A thumbnail shows a picture's
   * bytes, so it is given only while one of the picture's files may be read through `files`
   * (the roots as they are now), and made only from such a file.
   */
  async get(image: ImageWithPaths, files: SourceFiles): Promise<string> {
    const target = this.pathFor(image.contentHash);
    if (await isFile(target)) {
      if (await anyReadable(image, files)) return target;
      throw gone(image);
    }
    let pending = this.inFlight.get(image.contentHash);
    if (!pending) {
      pending = this.generate(image, target, files).finally(() =>
        this.inFlight.delete(image.contentHash)
      );
      this.inFlight.set(image.contentHash, pending);
    }
    return pending;
  }

  private async generate(
    image: ImageWithPaths,
    target: string,
    files: SourceFiles
  ): Promise<string> {
    const bytes = await readSource(image, files);
    const webp = await sharp(bytes, { limitInputPixels: this.options.maxPixels, pages: 1 })
      .rotate() // EXIF orientation
      .resize({
        width: this.size,
        height: this.size,
        fit: 'inside',
        withoutEnlargement: true
      })
      .webp({ quality: 80 })
      .toBuffer();
    await mkdir(this.options.dir, { recursive: true });
    // Write then rename, so a reader never sees half a file under the final name.
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, webp);
      await rename(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    return target;
  }
}

/** Opens a picture's file if it may be read now (ImageRoots.openFile). */
export type SourceFiles = Pick<ImageRoots, 'openFile'>;

async function anyReadable(image: ImageWithPaths, files: SourceFiles): Promise<boolean> {
  for (const path of image.paths) {
    const file = await files.openFile(path);
    if (!file) continue;
    await file.handle.close();
    return true;
  }
  return false;
}

/**
 * The bytes of the first readable file that still holds this picture's content. A file of
 * another size cannot, so it is not read (which also keeps reads within the indexed size).
 */
async function readSource(image: ImageWithPaths, files: SourceFiles): Promise<Uint8Array> {
  for (const path of image.paths) {
    const file = await files.openFile(path);
    if (!file) continue;
    let bytes: Uint8Array | undefined;
    try {
      if (file.info.size === image.bytes) bytes = await file.handle.readFile();
    } catch {
      // Unreadable: try the next copy.
    } finally {
      await file.handle.close();
    }
    if (bytes && createHash('sha256').update(bytes).digest('hex') === image.contentHash) {
      return bytes;
    }
  }
  throw gone(image);
}

const gone = (image: ImageWithPaths) =>
  new NotFoundError(
    `The files of image ${image.id} are gone or have changed; index their folder again`
  );

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
