/**
 * A picture's width and height read from its file header, without decoding it, so a huge picture
 * is refused before `createImageBitmap` spends seconds and hundreds of MB on it. Knows JPEG, PNG,
 * GIF and WebP; for anything else (AVIF, BMP, a broken file) it answers undefined and the decoder
 * decides. EXIF orientation may swap the two, which does not change the pixel count.
 */

export interface ImageSize {
  width: number;
  height: number;
}

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
export type ByteReader = (offset: number, length: number) => Promise<Uint8Array>;

/** A reader over a Blob (or File): only the bytes asked for are read. */
export const blobReader =
  (blob: Blob): ByteReader =>
  async (offset, length) =>
    new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());

const ascii = (bytes: Uint8Array, at: number, text: string) =>
  bytes.length >= at + text.length &&
  [...text].every((char, i) => bytes[at + i] === char.charCodeAt(0));
const u16be = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u16le = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u24le = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
const u32be = (b: Uint8Array, at: number) => u16be(b, at) * 65536 + u16be(b, at + 2);

const sized = (width: number, height: number): ImageSize | undefined =>
  width > 0 && height > 0 ? { width, height } : undefined;

export async function readImageSize(read: ByteReader): Promise<ImageSize | undefined> {
  const head = await read(0, 32);
  if (head[0] === 0xff && head[1] === 0xd8) return jpegSize(read);
  if (ascii(head, 1, 'PNG') && ascii(head, 12, 'IHDR')) {
    return sized(u32be(head, 16), u32be(head, 20));
  }
  if (ascii(head, 0, 'GIF87a') || ascii(head, 0, 'GIF89a')) {
    return sized(u16le(head, 6), u16le(head, 8));
  }
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WEBP')) return webpSize(head);
  return undefined;
}

function webpSize(head: Uint8Array): ImageSize | undefined {
  if (head.length < 30) return undefined;
  if (ascii(head, 12, 'VP8X')) {
    // Canvas size minus one, 24 bits each.
    return sized(u24le(head, 24) + 1, u24le(head, 27) + 1);
  }
  if (ascii(head, 12, 'VP8L') && head[20] === 0x2f) {
    // 14 bits of width − 1, then 14 bits of height − 1, little-endian bit order.
    const bits = head[21]! | (head[22]! << 8) | (head[23]! << 16) | (head[24]! << 24);
    return sized((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (ascii(head, 12, 'VP8 ') && head[23] === 0x9d && head[24] === 0x01 && head[25] === 0x2a) {
    // Key frame header: 14-bit sizes (the top 2 bits are a scaling hint).
    return sized(u16le(head, 26) & 0x3fff, u16le(head, 28) & 0x3fff);
  }
  return undefined;
}

/**
 * Walks the JPEG's marker segments up to the first start-of-frame (SOF0–SOF15, except DHT C4,
 * JPG C8 and DAC CC, which share the range). Reads each segment's header only, so large EXIF or
 * ICC segments cost nothing.
 */
async function jpegSize(read: ByteReader): Promise<ImageSize | undefined> {
  let offset = 2;
  for (let segments = 0; segments < 1000; segments++) {
    const header = await read(offset, 9);
    if (header.length < 4 || header[0] !== 0xff) return undefined;
    const marker = header[1]!;
    // Fill bytes before a marker.
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    // Markers without a length (TEM, RSTn).
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2;
      continue;
    }
    // Start of scan or end of image before any frame header: give up, let the decoder decide.
    if (marker === 0xda || marker === 0xd9) return undefined;
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isFrame) {
      if (header.length < 9) return undefined;
      return sized(u16be(header, 7), u16be(header, 5));
    }
    offset += 2 + u16be(header, 2);
  }
  return undefined;
}
