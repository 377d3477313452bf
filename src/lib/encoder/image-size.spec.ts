import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readImageSize, type ByteReader } from './image-size';

/** Reads from a buffer, and records how far the parser read. */
function reader(bytes: Uint8Array) {
  const seen = { end: 0 };
  const read: ByteReader = async (offset, length) => {
    seen.end = Math.max(seen.end, offset + length);
    return bytes.subarray(offset, offset + length);
  };
  return { read, seen };
}

const flat = (width: number, height: number, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background: { r: 10, g: 20, b: 30, alpha: 0.5 } } });

describe('readImageSize', () => {
  it.each([
    ['JPEG (baseline)', () => flat(8000, 6000).jpeg()],
    ['JPEG (progressive)', () => flat(1234, 567).jpeg({ progressive: true })],
    ['PNG', () => flat(801, 3, 4).png()],
    ['GIF', () => flat(320, 240).gif()],
    ['WebP lossy (VP8)', () => flat(1001, 777).webp({ quality: 50 })],
    ['WebP lossless (VP8L)', () => flat(16383, 2).webp({ lossless: true })],
    ['WebP with alpha (VP8X)', () => flat(640, 480, 4).webp({ quality: 50 })]
  ])('reads the size of a %s from its header', async (_name, make) => {
    const image = make();
    const { width, height } = await image.clone().metadata();
    const { read } = reader(new Uint8Array(await image.toBuffer()));
    expect(await readImageSize(read)).toEqual({ width, height });
  });

  it('skips JPEG segments it does not need, however large (EXIF, ICC)', async () => {
    const bytes = await flat(300, 200)
      .withIccProfile('p3')
      .withExif({ IFD0: { ImageDescription: 'x'.repeat(30_000) } })
      .jpeg()
      .toBuffer();
    const { read, seen } = reader(new Uint8Array(bytes));
    expect(await readImageSize(read)).toEqual({ width: 300, height: 200 });
    // It read segment headers only, not the metadata (nor the scan) itself.
    expect(seen.end).toBeLessThan(bytes.length);
  });

  it('answers undefined for what it cannot read, so the decoder decides', async () => {
    const text = new TextEncoder().encode('these are my shopping notes, not a picture');
    expect(await readImageSize(reader(text).read)).toBeUndefined();
    expect(await readImageSize(reader(new Uint8Array(0)).read)).toBeUndefined();
    const avif = await flat(64, 48).avif().toBuffer();
    expect(await readImageSize(reader(new Uint8Array(avif)).read)).toBeUndefined();
    // A JPEG cut off before its frame header.
    const jpeg = await flat(64, 48).jpeg().toBuffer();
    expect(await readImageSize(reader(new Uint8Array(jpeg.subarray(0, 20))).read)).toBeUndefined();
  });
});
