import { mkdtemp, readFile, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageRejectedError } from '../../server/embedding/image-decoder';
import { SharpImageDecoder } from '../../server/embedding/sharp-decoder';
import { getManifest } from '../../server/models/registry';
import { patternPixels, rawImage, smoothPixels } from '../helpers/images';
import {
  channelMeans,
  diffFromPillow,
  PILLOW_FIXTURES,
  pillowCases,
  referenceResize,
  sha256
} from '../helpers/reference-resize';

const manifest = getManifest('synthetic-resnet50'); // shorter side → 256, centre crop 224
const decoder = new SharpImageDecoder({ maxPixels: 100_000_000, maxFileBytes: 50 * 1024 * 1024 });

/** Crops interleaved RGB pixels: what a correct centre crop must return. */
function crop(
  px: ArrayLike<number>,
  width: number,
  left: number,
  top: number,
  w: number,
  h: number
) {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w * 3; x++) out[y * w * 3 + x] = px[((top + y) * width + left) * 3 + x]!;
  }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>) {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function meanDiff(a: ArrayLike<number>, b: ArrayLike<number>) {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

async function expectRejected(promise: Promise<unknown>, reason: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  );
  expect(error).toBeInstanceOf(ImageRejectedError);
  expect((error as ImageRejectedError).reason).toBe(reason);
  return error as ImageRejectedError;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lookalike-decoder-'));
});

describe('SharpImageDecoder geometry and pixels', () => {
  it('takes the exact centre 224×224 of a 320×256 image that needs no resizing', async () => {
    // Shorter side is already 256, so the only step is the crop: left (320-224)/2 = 48, top 16.
    const px = patternPixels(320, 256, 3);
    const png = await rawImage(px, 320, 256).png().toBuffer();
    const decoded = await decoder.decode(png, manifest);
    expect(decoded.width).toBe(320);
    expect(decoded.height).toBe(256);
    expect(decoded.format).toBe('png');
    expect(maxDiff(decoded.pixels, crop(px, 320, 48, 16, 224, 224))).toBe(0);
  });

  it('resizes like an independent bicubic reference (640×512 → 320×256, then crops)', async () => {
    const px = smoothPixels(640, 512);
    const png = await rawImage(px, 640, 512).png().toBuffer();
    const decoded = await decoder.decode(png, manifest);
    const resized = referenceResize(px, 640, 512, 3, 320, 256);
    const expected = crop(resized, 320, 48, 16, 224, 224);
    // Different implementations of the same filter agree to a level or two on smooth content.
    expect(maxDiff(decoded.pixels, expected)).toBeLessThanOrEqual(2);
  });

  it('upsamples small images to the shorter side (100×80 → 320×256)', async () => {
    const px = smoothPixels(100, 80);
    const png = await rawImage(px, 100, 80).png().toBuffer();
    const decoded = await decoder.decode(png, manifest);
    const expected = crop(referenceResize(px, 100, 80, 3, 320, 256), 320, 48, 16, 224, 224);
    // Enlarged on Pillow's grid (core's resize); the reference differs only in rounding once, at
    // the end, where Pillow rounds after each pass. (libvips' grid was up to 3 levels off here.)
    expect(maxDiff(decoded.pixels, expected)).toBeLessThanOrEqual(1);
    expect(meanDiff(decoded.pixels, expected)).toBeLessThan(0.3);
  });

  it('composites transparency onto the white background', async () => {
    const rgba = new Uint8Array(300 * 300 * 4);
    for (let i = 0; i < 300 * 300; i++) rgba.set([10, 20, 30, i % 300 < 150 ? 0 : 255], i * 4);
    const png = await rawImage(rgba, 300, 300, 4).png().toBuffer();
    const { pixels } = await decoder.decode(png, manifest);
    // Left columns were transparent → white; right columns opaque → their colour.
    expect([...pixels.subarray(0, 3)]).toEqual([255, 255, 255]);
    const rightmost = (224 - 1) * 3;
    expect([...pixels.subarray(rightmost, rightmost + 3)]).toEqual([10, 20, 30]);
  });

  it('turns grayscale into three equal channels', async () => {
    const gray = new Uint8Array(256 * 256).map((_, i) => i % 256);
    const png = await rawImage(gray, 256, 256, 1).png().toBuffer();
    const { pixels } = await decoder.decode(png, manifest);
    for (let p = 0; p < 224 * 224; p += 997) {
      expect(pixels[p * 3]).toBe(pixels[p * 3 + 1]);
      expect(pixels[p * 3]).toBe(pixels[p * 3 + 2]);
    }
    expect(pixels[3 * 5]).toBe(16 + 5); // column 5 of the crop is source column 16 + 5
  });

  it('reduces 16-bit images to the same 8-bit pixels', async () => {
    const px8 = patternPixels(256, 256, 9);
    const px16 = new Uint16Array(px8.length).map((_, i) => px8[i]! * 257);
    const png16 = await sharp(px16, { raw: { width: 256, height: 256, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const png8 = await rawImage(px8, 256, 256).png().toBuffer();
    const a = await decoder.decode(png16, manifest);
    const b = await decoder.decode(png8, manifest);
    expect(maxDiff(a.pixels, b.pixels)).toBeLessThanOrEqual(1);
  });

  it('applies EXIF orientation: a rotated file tagged to be shown upright decodes like the original', async () => {
    const px = smoothPixels(400, 300);
    const upright = await rawImage(px, 400, 300).png().toBuffer();
    // Store the pixels turned 90° clockwise and tag orientation 8 ("rotate 90° CCW to display").
    const stored = await sharp(upright)
      .rotate(90)
      .png()
      .withMetadata({ orientation: 8 })
      .toBuffer();
    expect((await sharp(stored).metadata()).width).toBe(300);
    const a = await decoder.decode(upright, manifest);
    const b = await decoder.decode(stored, manifest);
    expect(b.width).toBe(400);
    expect(b.height).toBe(300);
    expect(maxDiff(a.pixels, b.pixels)).toBeLessThanOrEqual(1);
  });

  it('uses the first frame of an animation', async () => {
    const red = await sharp({
      create: { width: 256, height: 256, channels: 3, background: '#ff0000' }
    })
      .png()
      .toBuffer();
    const green = await sharp({
      create: { width: 256, height: 256, channels: 3, background: '#00ff00' }
    })
      .png()
      .toBuffer();
    const gif = await sharp([red, green], { join: { animated: true } })
      .gif()
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const { pixels } = await decoder.decode(gif, manifest);
    expect([...pixels.subarray(0, 3)]).toEqual([255, 0, 0]);
    expect(pixels.length).toBe(224 * 224 * 3);
  });

  it('enlarges (with core’s resize) after orientation, transparency and 16-bit handling', async () => {
    // 120×90 → 341×256: the path where sharp only decodes and core resizes.
    const px = smoothPixels(120, 90);
    const upright = await decoder.decode(await rawImage(px, 120, 90).png().toBuffer(), manifest);
    const stored = await sharp(await rawImage(px, 120, 90).png().toBuffer())
      .rotate(90)
      .png()
      .withMetadata({ orientation: 8 })
      .toBuffer();
    const turned = await decoder.decode(stored, manifest);
    expect([turned.width, turned.height]).toEqual([120, 90]);
    expect(maxDiff(turned.pixels, upright.pixels)).toBe(0);
    const px16 = new Uint16Array(px.length).map((_, i) => px[i]! * 257);
    const png16 = await sharp(px16, { raw: { width: 120, height: 90, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect(maxDiff((await decoder.decode(png16, manifest)).pixels, upright.pixels)).toBe(0);
    const rgba = new Uint8Array(120 * 90 * 4);
    for (let i = 0; i < 120 * 90; i++) rgba.set([10, 20, 30, i % 120 < 60 ? 0 : 255], i * 4);
    const { pixels } = await decoder.decode(
      await rawImage(rgba, 120, 90, 4).png().toBuffer(),
      manifest
    );
    expect([...pixels.subarray(0, 3)]).toEqual([255, 255, 255]);
    expect([...pixels.subarray(223 * 3, 224 * 3)]).toEqual([10, 20, 30]);
  });

  it.each(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const)('decodes %s', async (format) => {
    const bytes = await rawImage(smoothPixels(300, 260), 300, 260).toFormat(format).toBuffer();
    const decoded = await decoder.decode(bytes, manifest);
    expect(decoded.pixels.length).toBe(224 * 224 * 3);
    expect(decoded.format).toBe(format === 'avif' ? 'heif' : format);
    // 300×260 → 295×256, crop left 35. Lossy formats (and GIF's 256 colours) move pixels a little,
    // never the picture.
    const reference = crop(
      referenceResize(smoothPixels(300, 260), 300, 260, 3, 295, 256),
      295,
      35,
      16,
      224,
      224
    );
    expect(meanDiff(decoded.pixels, reference)).toBeLessThan(format === 'gif' ? 12 : 4);
  });
});

describe('SharpImageDecoder gives Pillow’s model input (tests/fixtures/resize)', () => {
  // Pillow's bicubic resize + centre crop (tests/reference/resize_reference.py) is what a model
  // trained with torchvision saw.
  for (const c of pillowCases()) {
    const enlarges = c.resizeWidth > c.width;
    it(`${c.file} (${enlarges ? 'enlarged' : 'shrunk'} to ${c.resizeWidth}×${c.resizeHeight})`, async () => {
      const decoded = await decoder.decode(await readFile(join(PILLOW_FIXTURES, c.file)), manifest);
      const d = diffFromPillow(c, decoded.pixels, c.crop);
      const means = channelMeans(decoded.pixels);
      expect(d.compared).toBeGreaterThan(100);
      // Within 2 levels at any sampled pixel, half a level on average, and a quarter of a level
      // in each channel's mean over the crop. Enlarging uses core's resize: Pillow's exact bytes
      // (libvips' own enlarging missed by 5–59 levels). Shrinking stays in libvips, in steps under
      // 4× (sampled mean 0.04–0.33 here); in one step its box pre-shrink moved the 3 px
      // checkerboard's red mean by 0.44 at 5.9×.
      expect(d.max).toBeLessThanOrEqual(2);
      expect(d.mean).toBeLessThanOrEqual(0.5);
      means.forEach((m, ch) => expect(Math.abs(m - c.cropMean[ch]!)).toBeLessThanOrEqual(0.25));
      if (enlarges) expect(sha256(decoded.pixels)).toBe(c.cropSha256);
    });
  }
});

describe('SharpImageDecoder refuses bad input with a reason', () => {
  it('rejects an empty file', async () => {
    await expectRejected(decoder.decode(new Uint8Array(0), manifest), 'empty');
  });

  it('rejects text pretending to be a JPEG', async () => {
    const path = join(dir, 'fake.jpg');
    await writeFile(path, 'this is not an image at all');
    await expectRejected(decoder.decode(path, manifest), 'unsupported-format');
  });

  it('rejects a truncated JPEG', async () => {
    const jpeg = await rawImage(patternPixels(500, 400), 500, 400).jpeg().toBuffer();
    await expectRejected(decoder.decode(jpeg.subarray(0, jpeg.length / 2), manifest), 'corrupt');
  });

  it('rejects a missing file and an unreadable one', async () => {
    await expectRejected(decoder.decode(join(dir, 'nope.png'), manifest), 'unreadable');
    await expectRejected(decoder.decode(dir, manifest), 'unreadable');
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked.png');
      await writeFile(locked, await rawImage(smoothPixels(8, 8), 8, 8).png().toBuffer());
      await chmod(locked, 0o000);
      await expectRejected(decoder.decode(locked, manifest), 'unreadable');
    }
  });

  it('rejects a decompression bomb from its header, before decoding', async () => {
    // A valid 1×1 PNG whose header is rewritten to claim 100000×100000 pixels (10 gigapixels).
    const png = Buffer.from(
      await rawImage(new Uint8Array([1, 2, 3]), 1, 1)
        .png()
        .toBuffer()
    );
    png.writeUInt32BE(100_000, 16);
    png.writeUInt32BE(100_000, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
    const started = performance.now();
    const error = await expectRejected(decoder.decode(png, manifest), 'too-many-pixels');
    expect(error.message).toMatch(/100000×100000/);
    expect(error.message).toMatch(/LOOKALIKE_MAX_PIXELS/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('honours a configured pixel limit and file size limit', async () => {
    const strict = new SharpImageDecoder({ maxPixels: 1_000_000, maxFileBytes: 10_000 });
    const big = await rawImage(smoothPixels(1200, 900), 1200, 900).png().toBuffer();
    expect(big.length).toBeGreaterThan(10_000);
    const path = join(dir, 'big.png');
    await writeFile(path, big);
    await expectRejected(strict.decode(path, manifest), 'file-too-large');
    const roomy = new SharpImageDecoder({ maxPixels: 1_000_000, maxFileBytes: 1e9 });
    await expectRejected(roomy.decode(path, manifest), 'too-many-pixels');
  });
});

describe('SharpImageDecoder refuses hostile shapes', () => {
  it('rejects a 1×5000 strip instead of planning a 256×1280000 resize', async () => {
    const strip = await rawImage(new Uint8Array(5000 * 3).fill(90), 1, 5000)
      .png()
      .toBuffer();
    const error = await expectRejected(decoder.decode(strip, manifest), 'bad-geometry');
    expect(error.message).toMatch(/1×5000/);
  });

  it('still accepts a 10:1 panorama', async () => {
    const pano = await rawImage(smoothPixels(2560, 256), 2560, 256).jpeg().toBuffer();
    const decoded = await decoder.decode(pano, manifest);
    expect(decoded.pixels.length).toBe(224 * 224 * 3);
  });
});
