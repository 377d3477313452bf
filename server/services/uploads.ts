import { createHash, randomBytes } from 'node:crypto';
import { mkdir, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { differenceHash } from '#core/dhash';
import type { Embedder } from '../embedding/embedder';
import { ImageRejectedError, type ImageDecoder } from '../embedding/image-decoder';
import type { Collection } from './collection';
import { Mutex } from './mutex';

/** File extensions of the formats an upload may have (sharp's format names). */
const EXTENSIONS: Record<string, string> = {
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  tiff: 'tiff',
  heif: 'avif'
};

/** Where uploaded pictures are kept: a folder of the data directory the server also reads from. */
export const uploadsDir = (dataDir: string): string => join(dataDir, 'uploads');

export interface UploadsOptions {
  /** Where uploads are kept, `<dataDir>/uploads`. */
  dir: string;
  collection: Collection;
  decoder: ImageDecoder;
  embedder: Embedder;
}

export interface UploadResult {
  /** The picture's id in the collection. */
  id: number;
  /** Where the upload was saved (and indexed). */
  path: string;
  /** False when the collection already had this picture (the upload was linked to it). */
  created: boolean;
}

/** Runs an encode, e.g. through the EncodeLimiter. */
export type EncodeRunner = <T>(task: () => Promise<T>) => Promise<T>;

/**
 * Single pictures added over HTTP (the bootcamp-compatible `/img/upload`): saved under
 * `<dir>/<sha256>.<ext>` (content-addressed, so the same upload twice is one file), refused unless
 * they decode as an image, then embedded and added to the collection, or linked to the picture
 * the collection already has with the same content.
 */
export class Uploads {
  private readonly writes = new Mutex();

  constructor(private readonly options: UploadsOptions) {}

  async add(bytes: Uint8Array, encode: EncodeRunner = (task) => task()): Promise<UploadResult> {
    const { collection } = this.options;
    const contentHash = createHash('sha256').update(bytes).digest('hex');
    const known = await collection.catalog.findImageByHash(contentHash);
    // Decoding refuses anything that is not an image; a known hash already is one.
    let embedded = known ? undefined : await encode(() => this.embed(bytes));
    const format = known?.format ?? embedded!.format;
    const extension = EXTENSIONS[format];
    if (!extension) {
      throw new ImageRejectedError(
        'unsupported-format',
        `Uploads must be JPEG, PNG, WebP, GIF, TIFF or AVIF, not ${format}`
      );
    }
    const file = await this.save(bytes, `${contentHash}.${extension}`);

    return this.writes.run(async () => {
      const link = async (imageId: number): Promise<UploadResult> => {
        await collection.linkPaths([{ ...file, imageId }]);
        return { id: imageId, path: file.path, created: false };
      };
      const existing = await collection.catalog.findImageByHash(contentHash);
      if (existing) return link(existing.id);
      // Known when the request came in but cleared since: embed after all.
      embedded ??= await this.embed(bytes);
      try {
        const [id] = await collection.addImages([
          {
            contentHash,
            width: embedded.width,
            height: embedded.height,
            bytes: bytes.length,
            format: embedded.format,
            dhash: embedded.dhash,
            vector: embedded.vector,
            file
          }
        ]);
        return { id: id!, path: file.path, created: true };
      } catch (error) {
        // An index job may have added the same content in the meantime.
        const raced = await collection.catalog.findImageByHash(contentHash);
        if (raced) return link(raced.id);
        throw error;
      }
    });
  }

  private async embed(bytes: Uint8Array) {
    const { decoder, embedder } = this.options;
    const decoded = await decoder.decode(bytes, embedder.manifest);
    const [vector] = await embedder.embedPixels([decoded.pixels]);
    const { width, height } = embedder.manifest.input;
    return {
      vector: vector!,
      width: decoded.width,
      height: decoded.height,
      format: decoded.format,
      dhash: differenceHash(decoded.pixels, width, height)
    };
  }

  private async save(bytes: Uint8Array, name: string) {
    await mkdir(this.options.dir, { recursive: true });
    // Paths in the catalog are real paths, like the ones indexing stores.
    const path = join(await realpath(this.options.dir), name);
    let info = await stat(path).catch(() => undefined);
    if (!info?.isFile() || info.size !== bytes.length) {
      const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await writeFile(temp, bytes);
        await rename(temp, path);
      } catch (error) {
        await unlink(temp).catch(() => undefined);
        throw error;
      }
      info = await stat(path);
    }
    return { path, size: info.size, mtimeMs: info.mtimeMs };
  }
}
