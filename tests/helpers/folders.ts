import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { scene } from './images';

export interface GeneratedFolder {
  root: string;
  /** Paths of decodable pictures, relative to root. */
  good: string[];
  /** Distinct picture contents among `good`. */
  distinct: number;
  /** Not images: counted as skipped. */
  skipped: string[];
  /** Broken or hostile images: counted as failed. */
  failed: string[];
}

/**
 * A folder people really have: nested albums, an exact copy, a resized re-encode, and a dozen
 * kinds of bad file. Everything is generated, so the expectations below are exact.
 */
export async function generateFolder(root: string, pictures = 10): Promise<GeneratedFolder> {
  const good: string[] = [];
  const put = async (rel: string, bytes: Uint8Array | string) => {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), bytes);
  };
  for (let i = 0; i < pictures; i++) {
    const rel =
      i % 3 === 0
        ? `album ${i}/ünïcødé photo ${i}.jpg`
        : i % 3 === 1
          ? `a/b/c/img${i}.jpg`
          : `img${i}.png`;
    await put(rel, await scene(320 + i * 8, 240, i + 1, rel.endsWith('.png') ? 'png' : 'jpeg'));
    good.push(rel);
  }
  // Picture 0 is scene(320, 240, 1) as JPEG; the encoder is deterministic, so these bytes match.
  await put('copies/exact copy.jpg', await scene(320, 240, 1));
  good.push('copies/exact copy.jpg');
  const resized = await sharp(await scene(320, 240, 1))
    .resize(200)
    .webp()
    .toBuffer();
  await put('copies/resized.webp', resized);
  good.push('copies/resized.webp');
  await put('no-extension', await scene(300, 200, 99));
  good.push('no-extension');

  const jpeg = await scene(320, 240, 42);
  const skipped = ['notes.txt', 'fake.jpg', 'empty.jpg'];
  await put('notes.txt', 'just some text');
  await put('fake.jpg', 'this is not a jpeg');
  await put('empty.jpg', new Uint8Array(0));
  const failed = ['truncated.jpg', 'bomb.png'];
  await put('truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 3)));
  // A PNG header claiming 100000×100000 pixels: refused before decoding.
  const png = Buffer.from(
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
      .png()
      .toBuffer()
  );
  png.writeUInt32BE(100_000, 16);
  png.writeUInt32BE(100_000, 20);
  const { crc32 } = await import('node:zlib');
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  await put('bomb.png', png);
  // pictures + the resized re-encode + no-extension; the exact copy shares picture 0's content.
  return { root, good, distinct: pictures + 2, skipped, failed };
}
