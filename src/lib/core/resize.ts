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
 * The browser's resampler: separable Catmull-Rom (a = -0.5) bicubic with the kernel widened by the
 * scale factor when shrinking (antialiasing), the filter libvips' `reduce` (sharp's `cubic`
 * kernel) and PIL's bicubic use, so a picture resized here and on the server gives the same model
 * input to within a level or two. Pure TypeScript on interleaved 8-bit pixels.
 */

/** Catmull-Rom cubic (Keys, a = -0.5). */
function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/**
 * Taps for each output position along one axis: output `o` reads `count[o]` inputs from
 * `first[o]`, with weights `weights[o * stride + k]` that sum to 1. Computed once per axis, so the
 * inner loops are plain multiply-adds.
 */
interface Taps {
  first: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  stride: number;
}

function axisTaps(inSize: number, outSize: number): Taps {
  return outSize > inSize ? enlargeTaps(inSize, outSize) : reduceTaps(inSize, outSize);
}

/**
 * Shrinking (libvips `reduce`): the kernel is stretched over `scale` input pixels so every input
 * contributes; pixel centres sit at +0.5, so output o covers input [o·scale, (o+1)·scale).
 */
function reduceTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const support = 2 * scale;
  const stride = Math.ceil(2 * support) + 2;
  const taps = emptyTaps(outSize, stride);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize - 1, Math.ceil(centre + support));
    for (let i = lo; i <= hi; i++)
      taps.weights[o * stride + (i - lo)] = cubic((i + 0.5 - centre) / scale);
    setRange(taps, o, lo, hi);
  }
  return taps;
}

/**
 * Enlarging (libvips `affine` with its bicubic interpolator, which sharp uses to upsize): output o
 * samples input position o·in/out with 4 Catmull-Rom taps, edge pixels repeated beyond the border.
 */
function enlargeTaps(inSize: number, outSize: number): Taps {
  const stride = 4;
  const taps = emptyTaps(outSize, stride);
  for (let o = 0; o < outSize; o++) {
    const x = (o * inSize) / outSize - 0.5;
    const i0 = Math.floor(x);
    const t = x - i0;
    const lo = Math.max(0, i0 - 1);
    const hi = Math.min(inSize - 1, i0 + 2);
    for (let k = -1; k <= 2; k++) {
      const i = Math.min(hi, Math.max(lo, i0 + k));
      taps.weights[o * stride + (i - lo)]! += cubic(k - t);
    }
    setRange(taps, o, lo, hi);
  }
  return taps;
}

function emptyTaps(outSize: number, stride: number): Taps {
  return {
    first: new Int32Array(outSize),
    count: new Int32Array(outSize),
    weights: new Float64Array(outSize * stride),
    stride
  };
}

/** Records output o's input range and normalises its weights, so flat areas stay flat. */
function setRange(taps: Taps, o: number, lo: number, hi: number): void {
  let sum = 0;
  for (let k = 0; k <= hi - lo; k++) sum += taps.weights[o * taps.stride + k]!;
  for (let k = 0; k <= hi - lo; k++) taps.weights[o * taps.stride + k]! /= sum;
  taps.first[o] = lo;
  taps.count[o] = hi - lo + 1;
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
 * costs less than a full resize. Values are rounded and clamped once, at the end.
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

  // Horizontal pass over just those rows and the region's columns, kept in floating point.
  const rows = rowHi - rowLo + 1;
  const mid = new Float32Array(rows * w * outChannels);
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
        let r = 0;
        let g = 0;
        let b = 0;
        let p = srcRow + base * channels;
        for (let k = 0; k < n; k++, p += channels) {
          const weight = tx.weights[wBase + k]!;
          r += weight * src[p]!;
          g += weight * src[p + 1]!;
          b += weight * src[p + 2]!;
        }
        mid[midRow + x * 3] = r;
        mid[midRow + x * 3 + 1] = g;
        mid[midRow + x * 3 + 2] = b;
        continue;
      }
      for (let c = 0; c < outChannels; c++) {
        let acc = 0;
        let p = srcRow + base * channels + c;
        for (let k = 0; k < n; k++, p += channels) acc += tx.weights[wBase + k]! * src[p]!;
        mid[midRow + x * outChannels + c] = acc;
      }
    }
  }

  // Vertical pass; Uint8ClampedArray rounds half to even and clamps to 0–255 on store.
  const rowLength = w * outChannels;
  const out = new Uint8ClampedArray(h * rowLength);
  const acc = new Float64Array(rowLength);
  for (let y = 0; y < h; y++) {
    const o = top + y;
    const base = ty.first[o]! - rowLo;
    const n = ty.count[o]!;
    const wBase = o * ty.stride;
    acc.fill(0);
    for (let k = 0; k < n; k++) {
      const weight = ty.weights[wBase + k]!;
      const midRow = (base + k) * rowLength;
      for (let i = 0; i < rowLength; i++) acc[i]! += weight * mid[midRow + i]!;
    }
    out.set(acc, y * rowLength);
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
