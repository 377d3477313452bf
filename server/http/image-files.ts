import { stat } from 'node:fs/promises';
import type { Collection } from '../services/collection';
import type { ImageWithPaths, PathRecord } from '../stores/catalog';
import { imageContentType, type FileToSend } from './file-response';

/** Originals may change on disk, so clients revalidate (cheaply: ETag + 304) after a day. */
export const ORIGINAL_CACHE_CONTROL = 'private, max-age=86400';

/**
 * The file to send for a picture: the first of its paths that still exists and is a file,
 * preferring one whose size and mtime are still those indexed (its ETag is then the strong content
 * hash). A file changed since indexing is only a fallback, with a weak ETag of its size and mtime.
 * Only paths the catalog holds are ever looked at.
 */
export async function fileOfImage(
  collection: Collection,
  image: ImageWithPaths
): Promise<FileToSend | undefined> {
  let fallback: FileToSend | undefined;
  for (const path of image.paths) {
    const record = await collection.catalog.getPath(path);
    const file = record && (await describe(image, record));
    if (file && !file.etag.startsWith('W/')) return file;
    fallback ??= file;
  }
  return fallback;
}

/** The file for an exact indexed path (the seed-compatible `/data`); undefined for any other. */
export async function fileOfPath(
  collection: Collection,
  path: string
): Promise<FileToSend | undefined> {
  const record = await collection.catalog.getPath(path);
  if (!record) return undefined;
  const image = await collection.getImage(record.imageId);
  return image && describe(image, record);
}

async function describe(
  image: ImageWithPaths,
  record: PathRecord
): Promise<FileToSend | undefined> {
  const info = await stat(record.path).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  const unchanged = info.size === record.size && info.mtimeMs === record.mtimeMs;
  return {
    path: record.path,
    contentType: imageContentType(image.format),
    etag: unchanged
      ? `"${image.contentHash}"`
      : `W/"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`,
    cacheControl: ORIGINAL_CACHE_CONTROL
  };
}
