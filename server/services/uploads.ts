import { randomBytes } from 'node:crypto';
import { mkdir, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Embedder } from '../embedding/embedder';
import { ImageRejectedError, type ImageDecoder } from '../embedding/image-decoder';
import type { Collection } from './collection';
import { Ingest, type EncodeRunner } from './ingest';
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
  decoder: Pick<ImageDecoder, 'decode'>;
  embedder: Pick<Embedder, 'embedPixels' | 'manifest'>;
}

export interface UploadResult {
  /** The picture's id in the collection. */
  id: number;
  /** Where the upload was saved (and indexed). */
  path: string;
  /** False when the collection already had this picture (the upload was linked to it). */
  created: boolean;
}

/**
 * Single pictures added over HTTP (the bootcamp-compatible `/img/upload`): saved under
 * `<dir>/<sha256>.<ext>` (content-addressed, so the same upload twice is one file), refused unless
 * they decode as an image, then added through the Ingest use case: embedded and added, or linked
 * to the picture the collection already has with the same content (also when an index job adds
 * that content at the same moment).
 */
export class Uploads {
  private readonly writes = new Mutex();
  private readonly ingest: Ingest;

  constructor(private readonly options: UploadsOptions) {
    this.ingest = new Ingest(options);
  }

  /** `encode` runs the decode and embed of new content (a known one needs neither). */
  async add(bytes: Uint8Array, encode?: EncodeRunner): Promise<UploadResult> {
    // Decoding refuses anything that is not an image; a known hash already is one.
    const examine = async () => {
      const content = (await this.ingest.examine([bytes], { embed: true, encode }))[0]!;
      if (content.kind === 'rejected') throw content.error;
      return content;
    };
    const content = await examine();
    const format = content.kind === 'known' ? content.image.format : content.format;
    const extension = EXTENSIONS[format];
    if (!extension) {
      throw new ImageRejectedError(
        'unsupported-format',
        `Uploads must be JPEG, PNG, WebP, GIF, TIFF or AVIF, not ${format}`
      );
    }
    const file = await this.save(bytes, `${content.contentHash}.${extension}`);

    return this.writes.run(async () => {
      let outcome = (await this.ingest.add([{ file, content }]))[0]!;
      // Known when the request came in but cleared since: embed after all.
      if (outcome.kind === 'stale')
        outcome = (await this.ingest.add([{ file, content: await examine() }]))[0]!;
      if (outcome.kind === 'stale') throw new Error('The collection changed during the upload');
      return { id: outcome.imageId, path: file.path, created: outcome.kind === 'added' };
    });
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
