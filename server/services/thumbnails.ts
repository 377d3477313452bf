import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { ImageRejectedError, type ImageDecoder } from '../embedding/image-decoder';
import { NotFoundError } from '../errors';
import type { ImageWithPaths } from '../stores/catalog';

export interface ThumbnailOptions {
  /** Cache folder, `<dataDir>/thumbs`. */
  dir: string;
  /** Reads source files within the configured size limit. */
  decoder: Pick<ImageDecoder, 'read'>;
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

  /** The cached thumbnail's path, generating it first if needed. */
  async get(image: ImageWithPaths): Promise<string> {
    const target = this.pathFor(image.contentHash);
    if (await isFile(target)) return target;
    let pending = this.inFlight.get(image.contentHash);
    if (!pending) {
      pending = this.generate(image, target).finally(() => this.inFlight.delete(image.contentHash));
      this.inFlight.set(image.contentHash, pending);
    }
    return pending;
  }

  private async generate(image: ImageWithPaths, target: string): Promise<string> {
    const bytes = await this.readSource(image);
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

  /** The bytes of the first file that still holds this picture's content. */
  private async readSource(image: ImageWithPaths): Promise<Uint8Array> {
    for (const path of image.paths) {
      let bytes: Uint8Array;
      try {
        bytes = await this.options.decoder.read(path);
      } catch (error) {
        if (error instanceof ImageRejectedError) continue;
        throw error;
      }
      if (createHash('sha256').update(bytes).digest('hex') === image.contentHash) return bytes;
    }
    throw new NotFoundError(
      `The files of image ${image.id} are gone or have changed; index their folder again`
    );
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
