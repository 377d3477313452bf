import { payloadTooLarge } from './errors';

/** The bytes of an uploaded file, refused with 413 when over the upload cap. */
export async function checkUploadSize(file: File, maxBytes: number): Promise<Uint8Array> {
  if (file.size > maxBytes) throw payloadTooLarge(maxBytes);
  return new Uint8Array(await file.arrayBuffer());
}

/** Multipart routes: their bodies may be as large as the upload cap; others 1 MiB. */
export const UPLOAD_PATHS = [
  '/api/search/image',
  '/api/encode',
  '/img/upload',
  '/img/search'
] as const;
