import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

/**
 * An independent, plain-JS resampler for golden tests: separable Catmull-Rom (a = -0.5) bicubic
 * with the kernel widened when shrinking (antialiasing), the way PIL and libvips' reduce do it.
 * Works on interleaved 8-bit pixels and rounds once at the end.
 */
function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1;
  if (t < 2) return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a;
  return 0;
}

function weights(inSize: number, outSize: number): { first: number; w: number[] }[] {
  const scale = inSize / outSize;
  const stretch = Math.max(scale, 1);
  const support = 2 * stretch;
  const taps: { first: number; w: number[] }[] = [];
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const first = Math.max(0, Math.floor(centre - support));
    const last = Math.min(inSize - 1, Math.ceil(centre + support));
    const w: number[] = [];
    for (let i = first; i <= last; i++) w.push(cubic((i + 0.5 - centre) / stretch));
    const sum = w.reduce((s, v) => s + v, 0);
    taps.push({ first, w: w.map((v) => v / sum) });
  }
  return taps;
}

export function referenceResize(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number
): Float64Array {
  const horizontal = new Float64Array(outWidth * height * channels);
  const wx = weights(width, outWidth);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      const { first, w } = wx[x]!;
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < w.length; k++)
          acc += w[k]! * pixels[(y * width + first + k) * channels + c]!;
        horizontal[(y * outWidth + x) * channels + c] = acc;
      }
    }
  }
  const out = new Float64Array(outWidth * outHeight * channels);
  const wy = weights(height, outHeight);
  for (let y = 0; y < outHeight; y++) {
    const { first, w } = wy[y]!;
    for (let x = 0; x < outWidth; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < w.length; k++)
          acc += w[k]! * horizontal[((first + k) * outWidth + x) * channels + c]!;
        out[(y * outWidth + x) * channels + c] = Math.min(255, Math.max(0, Math.round(acc)));
      }
    }
  }
  return out;
}

/** One picture of tests/fixtures/resize/reference.json: Pillow's output for a source there. */
export interface PillowCase {
  file: string;
  width: number;
  height: number;
  resizeWidth: number;
  resizeHeight: number;
  crop: { left: number; top: number; width: number; height: number };
  /** sha256 of the decoded source RGB, the resized picture and its crop. */
  sourceSha256: string;
  resizedSha256: string;
  cropSha256: string;
  cropMean: [number, number, number];
  /** `[x, y, r, g, b]` of the full resized picture: corners, edges and random pixels. */
  samples: [number, number, number, number, number][];
}

export const PILLOW_FIXTURES = fileURLToPath(new URL('../fixtures/resize/', import.meta.url));

/**
 * Pillow's bicubic resize + centre crop of the pictures in tests/fixtures/resize/, written by
 * tests/reference/resize_reference.py (see there to regenerate).
 */
export function pillowCases(): PillowCase[] {
  const json = JSON.parse(readFileSync(join(PILLOW_FIXTURES, 'reference.json'), 'utf8')) as {
    cases: PillowCase[];
  };
  return json.cases;
}

/** A fixture picture decoded to interleaved RGB (no colour management, as Pillow reads it). */
export async function pillowSource(c: PillowCase): Promise<Uint8Array> {
  const { data, info } = await sharp(join(PILLOW_FIXTURES, c.file))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== c.width || info.height !== c.height || info.channels !== 3) {
    throw new Error(`${c.file} decoded to ${info.width}×${info.height}×${info.channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export const sha256 = (bytes: ArrayLike<number>) =>
  createHash('sha256').update(Uint8Array.from(bytes)).digest('hex');

/**
 * How far `pixels` (RGB, `width` wide, whose top-left is pixel `(left, top)` of the resized
 * picture) are from Pillow's at the case's sample points that fall inside them: the largest and
 * mean absolute difference in levels (0–255) over those samples' channels, and the number of
 * samples compared.
 */
export function diffFromPillow(
  c: PillowCase,
  pixels: ArrayLike<number>,
  region: { left: number; top: number; width: number; height: number }
): { max: number; mean: number; compared: number } {
  let max = 0;
  let sum = 0;
  let compared = 0;
  for (const [x, y, ...rgb] of c.samples) {
    const [rx, ry] = [x - region.left, y - region.top];
    if (rx < 0 || ry < 0 || rx >= region.width || ry >= region.height) continue;
    for (let ch = 0; ch < 3; ch++) {
      const d = Math.abs(pixels[(ry * region.width + rx) * 3 + ch]! - rgb[ch]!);
      max = Math.max(max, d);
      sum += d;
    }
    compared++;
  }
  return { max, mean: sum / (3 * compared), compared };
}

/** Per-channel mean of interleaved RGB. */
export function channelMeans(pixels: ArrayLike<number>): [number, number, number] {
  const sums = [0, 0, 0];
  for (let i = 0; i < pixels.length; i++) sums[i % 3]! += pixels[i]!;
  return sums.map((s) => (3 * s) / pixels.length) as [number, number, number];
}
