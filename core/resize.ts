import type { ModelManifest } from './model-manifest';
import type { ResizePlan } from './preprocess';

/** The resampling filters a manifest may name (`preprocess.interpolation`). */
export type Interpolation = ModelManifest['preprocess']['interpolation'];

/** The manifest asks for a filter this resampler does not implement (only bicubic is). */
export class UnsupportedInterpolationError extends Error {
  override readonly name = 'UnsupportedInterpolationError';
  constructor(readonly interpolation: Interpolation) {
    super(`this model's interpolation ${interpolation} is not supported in the browser`);
  }
}

/**
 * The model-input resampler, shared by the browser and the server so both feed the model the same
 * pixels: Pillow's `Image.resize(..., BICUBIC)` (what torchvision's `Resize` does to a PIL image,
 * and so what reference preprocessing means), reproduced operation for operation so the output is
 * the same to the bit. Pure TypeScript on interleaved 8-bit pixels.
 *
 * Pillow's scheme (`libImaging/Resample.c`): separable; output `o` is centred on input
 * `(o + 0.5)·in/out` (pixel centres at +0.5); Catmull-Rom (a = -0.5) with support 2, stretched by
 * the scale factor when shrinking (antialiasing); taps past the border are dropped and the rest
 * renormalised; weights are rounded to 22-bit fixed point, and each pass, horizontal first, is
 * rounded (half up) and clamped to 8 bits. libvips differs in the enlarging grid (`o·in/out`, half a
 * source pixel off at a 2× enlargement) and in shrinking large factors with a box filter first.
 */

/** Pillow's `bicubic_filter` (Keys, a = -0.5), with its exact operation order. */
function bicubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/** Fixed-point weights: Pillow's PRECISION_BITS for 8-bit images (32 − 8 − 2 bits of headroom). */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/**
 * Taps for each output position along one axis: output `o` reads `count[o]` inputs from
 * `first[o]`, with fixed-point weights `weights[o * stride + k]`. Computed once per axis, so the
 * inner loops are plain integer multiply-adds.
 */
interface Taps {
  first: Int32Array;
  count: Int32Array;
  weights: Int32Array;
  stride: number;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for a whole axis (no box). */
function axisTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const inverse = 1 / filterScale; // Pillow multiplies by the reciprocal; so must we, to the bit
  const taps: Taps = {
    first: new Int32Array(outSize),
    count: new Int32Array(outSize),
    weights: new Int32Array(outSize * stride),
    stride
  };
  const w = new Float64Array(stride);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(centre - support + 0.5));
    const n = Math.min(inSize, Math.trunc(centre + support + 0.5)) - lo;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      w[k] = bicubic((k + lo - centre + 0.5) * inverse);
      sum += w[k]!;
    }
    for (let k = 0; k < n; k++) {
      const v = sum !== 0 ? w[k]! / sum : w[k]!;
      taps.weights[o * stride + k] = Math.trunc(v < 0 ? v * ONE - 0.5 : v * ONE + 0.5);
    }
    taps.first[o] = lo;
    taps.count[o] = n;
  }
  return taps;
}

/** A fixed-point sum back to a byte: Pillow's `clip8` (the sum started at HALF, so this rounds). */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resizes `width × height` interleaved pixels (`channels` per pixel) to `resizeWidth ×
 * resizeHeight` and returns only `region` of the result, keeping the first `outChannels` channels
 * (4 → 3 drops alpha). Only the rows and columns the region needs are computed, so a centre crop
 * costs less than a full resize, with the same pixels as resizing everything and cropping.
 */
export function resizeRegion(
  src: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  channels: number,
  resizeWidth: number,
  resizeHeight: number,
  region: Region,
  outChannels = channels
): Uint8ClampedArray {
  if (src.length !== width * height * channels) {
    throw new Error(`Expected ${width * height * channels} bytes of pixels, got ${src.length}`);
  }
  if (outChannels < 1 || outChannels > channels) {
    throw new Error(`Cannot keep ${outChannels} of ${channels} channels`);
  }
  const { left, top, width: w, height: h } = region;
  if (left < 0 || top < 0 || w < 1 || h < 1 || left + w > resizeWidth || top + h > resizeHeight) {
    throw new Error(
      `Region ${w}×${h}+${left}+${top} is outside the resized ${resizeWidth}×${resizeHeight}`
    );
  }
  const tx = axisTaps(width, resizeWidth);
  const ty = axisTaps(height, resizeHeight);
  // Input rows the region's output rows read from.
  const rowLo = ty.first[top]!;
  const rowHi = ty.first[top + h - 1]! + ty.count[top + h - 1]! - 1;

  // Horizontal pass over just those rows and the region's columns, rounded to bytes as Pillow does.
  const rows = rowHi - rowLo + 1;
  const mid = new Uint8Array(rows * w * outChannels);
  for (let y = 0; y < rows; y++) {
    const srcRow = (rowLo + y) * width * channels;
    const midRow = y * w * outChannels;
    for (let x = 0; x < w; x++) {
      const o = left + x;
      const base = tx.first[o]!;
      const n = tx.count[o]!;
      const wBase = o * tx.stride;
      if (outChannels === 3) {
        // The common case (RGB out of RGB or RGBA), all three channels in one walk over the taps.
        let r = HALF;
        let g = HALF;
        let b = HALF;
        let p = srcRow + base * channels;
        for (let k = 0; k < n; k++, p += channels) {
          const weight = tx.weights[wBase + k]!;
          r += weight * src[p]!;
          g += weight * src[p + 1]!;
          b += weight * src[p + 2]!;
        }
        mid[midRow + x * 3] = clip8(r);
        mid[midRow + x * 3 + 1] = clip8(g);
        mid[midRow + x * 3 + 2] = clip8(b);
        continue;
      }
      for (let c = 0; c < outChannels; c++) {
        let acc = HALF;
        let p = srcRow + base * channels + c;
        for (let k = 0; k < n; k++, p += channels) acc += tx.weights[wBase + k]! * src[p]!;
        mid[midRow + x * outChannels + c] = clip8(acc);
      }
    }
  }

  // Vertical pass, a row of sums at a time (integers, exact in doubles).
  const rowLength = w * outChannels;
  const out = new Uint8ClampedArray(h * rowLength);
  const acc = new Float64Array(rowLength);
  for (let y = 0; y < h; y++) {
    const o = top + y;
    const base = ty.first[o]! - rowLo;
    const n = ty.count[o]!;
    const wBase = o * ty.stride;
    acc.fill(HALF);
    for (let k = 0; k < n; k++) {
      const weight = ty.weights[wBase + k]!;
      const midRow = (base + k) * rowLength;
      for (let i = 0; i < rowLength; i++) acc[i]! += weight * mid[midRow + i]!;
    }
    const outRow = y * rowLength;
    for (let i = 0; i < rowLength; i++) out[outRow + i] = clip8(acc[i]!);
  }
  return out;
}

/** Resizes interleaved 8-bit pixels to `outWidth × outHeight` (all channels kept). */
export function resizePixels(
  src: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number
): Uint8ClampedArray {
  return resizeRegion(src, width, height, channels, outWidth, outHeight, {
    left: 0,
    top: 0,
    width: outWidth,
    height: outHeight
  });
}

/**
 * The model input for decoded pixels: resized and cropped as `plan` says (core `planResize`),
 * as interleaved RGB ready for `writeInputTensor`. `channels` is 4 for canvas RGBA (alpha already
 * composited) or 3. `interpolation` is the manifest's filter: the server honours all of them, so
 * any other than bicubic is refused here rather than silently giving different vectors.
 */
export function resizeForModel(
  src: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  channels: 3 | 4,
  plan: ResizePlan,
  interpolation: Interpolation
): Uint8ClampedArray {
  if (interpolation !== 'bicubic') throw new UnsupportedInterpolationError(interpolation);
  return resizeRegion(
    src,
    width,
    height,
    channels,
    plan.resizeWidth,
    plan.resizeHeight,
    plan.crop,
    3
  );
}
