import type { Runtime } from '../runtime';
import type { Collection } from '../services/collection';
import type { ImageRoots } from '../services/image-roots';
import { uploadsDir } from '../services/uploads';
import type { ImageWithPaths, PathRecord } from '../stores/catalog';
import { imageContentType, type FileToSend } from './file-response';

/** Originals may change on disk, so clients revalidate (cheaply: ETag + 304) after a day. */
export const ORIGINAL_CACHE_CONTROL = 'private, max-age=86400';

/**
 * The folders the server reads pictures from: the image roots it was started with and its own
 * uploads folder (`<data dir>/uploads`, where app.ts has uploads saved). A file catalogued
 * anywhere else (by the CLI's explicit folder, or under a root since removed) stays searchable,
 * but its bytes are not served.
 */
export function readableRoots({ roots, config }: Pick<Runtime, 'roots' | 'config'>) {
  return roots.withOwnFolder(uploadsDir(config.dataDir));
}

/**
 * The file to send for a picture: the first of its paths that may be read now (see
 * ImageRoots.openFile), preferring one whose size and mtime are still those indexed (its ETag is
 * then the strong content hash). A file changed since indexing is only a fallback, with a weak
 * ETag of its size and mtime. Only paths the catalog holds are ever looked at. The file comes
 * opened; sendFile closes it.
 */
export async function fileOfImage(
  collection: Collection,
  readable: ImageRoots,
  image: ImageWithPaths
): Promise<FileToSend | undefined> {
  let fallback: FileToSend | undefined;
  const records = await collection.getPaths(image.paths);
  for (const path of image.paths) {
    const record = records.get(path);
    const file = record && (await describe(readable, image, record));
    if (!file) continue;
    if (!file.etag.startsWith('W/')) {
      await fallback?.opened?.close();
      return file;
    }
    if (fallback) await file.opened?.close();
    else fallback = file;
  }
  return fallback;
}

/** The file for an exact indexed path (the bootcamp-compatible `/data`); undefined for any other. */
export async function fileOfPath(
  collection: Collection,
  readable: ImageRoots,
  path: string
): Promise<FileToSend | undefined> {
  const record = await collection.getPath(path);
  if (!record) return undefined;
  const image = await collection.getImage(record.imageId);
  return image && describe(readable, image, record);
}

async function describe(
  readable: ImageRoots,
  image: ImageWithPaths,
  record: PathRecord
): Promise<FileToSend | undefined> {
  const file = await readable.openFile(record.path);
  if (!file) return undefined;
  const { info } = file;
  const unchanged = info.size === record.size && info.mtimeMs === record.mtimeMs;
  return {
    path: file.path,
    opened: file.handle,
    contentType: imageContentType(image.format),
    etag: unchanged
      ? `"${image.contentHash}"`
      : `W/"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`,
    cacheControl: ORIGINAL_CACHE_CONTROL
  };
}
