import type { ModelManifest } from './model-manifest';

/**
 * Preprocessing maths shared by browser and server. Decoding and resampling belong to the
 * platform adapters (sharp, canvas); this module decides the geometry they must produce and turns
 * the resulting pixels into the model's input tensor.
 */

/**
 * Longest side over shortest side that is accepted. Resizing the shorter side of a 1×100000
 * strip to 256 pixels would make a 256×25600000 image: refuse such shapes instead.
 */
export const MAX_ASPECT_RATIO = 50;

/** The picture's shape cannot be preprocessed (no pixels, or too long and thin). */
export class ImageGeometryError extends Error {
  override readonly name = 'ImageGeometryError';
}

export interface ResizePlan {
  /** Size to resample the (orientation-corrected) image to. */
  resizeWidth: number;
  resizeHeight: number;
  /** Region of the resized image that becomes the model input. */
  crop: { left: number; top: number; width: number; height: number };
}

/**
 * Where the model's input comes from in an image of `width` × `height` (after EXIF orientation).
 * Matches transformers' `get_resize_output_image_size` (long side truncated) and `center_crop`
 * (offsets floored).
 */
export function planResize(
  width: number,
  height: number,
  preprocess: ModelManifest['preprocess']
): ResizePlan {
  if (!(Number.isFinite(width) && Number.isFinite(height) && width > 0 && height > 0)) {
    throw new ImageGeometryError(`Image has no pixels (${width}×${height})`);
  }
  const { resize, crop } = preprocess;
  if (
    resize.mode === 'shortest-edge' &&
    Math.max(width, height) / Math.min(width, height) > MAX_ASPECT_RATIO
  ) {
    throw new ImageGeometryError(
      `Image is ${width}×${height}, longer than ${MAX_ASPECT_RATIO}:1; such strips are not indexed`
    );
  }
  let resizeWidth: number;
  let resizeHeight: number;
  if (resize.mode === 'exact') {
    resizeWidth = resize.width;
    resizeHeight = resize.height;
  } else if (width <= height) {
    resizeWidth = resize.size;
    resizeHeight = Math.trunc((resize.size * height) / width);
  } else {
    resizeHeight = resize.size;
    resizeWidth = Math.trunc((resize.size * width) / height);
  }
  if (crop.mode === 'none') {
    return {
      resizeWidth,
      resizeHeight,
      crop: { left: 0, top: 0, width: resizeWidth, height: resizeHeight }
    };
  }
  if (crop.width > resizeWidth || crop.height > resizeHeight) {
    throw new Error(
      `Crop ${crop.width}×${crop.height} is larger than the resized image ${resizeWidth}×${resizeHeight}`
    );
  }
  return {
    resizeWidth,
    resizeHeight,
    crop: {
      left: Math.floor((resizeWidth - crop.width) / 2),
      top: Math.floor((resizeHeight - crop.height) / 2),
      width: crop.width,
      height: crop.height
    }
  };
}

/**
 * Writes one image's interleaved 8-bit RGB pixels (`width × height × 3`, already at the model's
 * input size) into `out` at image slot `index`, rescaled and normalised per channel in the model's
 * channel order and layout.
 */
export function writeInputTensor(
  rgb: Uint8Array | Uint8ClampedArray,
  manifest: Pick<ModelManifest, 'input' | 'preprocess'>,
  out: Float32Array,
  index = 0,
  channels: 3 | 4 = 3
): void {
  const { width, height, layout } = manifest.input;
  const { rescale, mean, std, colorOrder } = manifest.preprocess;
  const plane = width * height;
  if (rgb.length !== plane * channels) {
    throw new Error(`Expected ${plane * channels} bytes of pixels, got ${rgb.length}`);
  }
  if (!Number.isInteger(index) || index < 0) throw new Error(`Invalid batch index ${index}`);
  const base = index * plane * 3;
  if (out.length < base + plane * 3) throw new Error('Input tensor too small for this batch index');
  // Source channel feeding each model channel: BGR models read R from slot 2.
  const source = colorOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  // The layout decides the output position's start and stride once per channel: a test inside
  // the per-pixel loop made this the indexer's largest main-thread cost after inference.
  const stride = layout === 'NCHW' ? 1 : 3;
  for (let c = 0; c < 3; c++) {
    const src = source[c]!;
    const scale = rescale / std[c]!;
    const shift = mean[c]! / std[c]!;
    let at = base + (layout === 'NCHW' ? c * plane : c);
    for (let p = 0, from = src; p < plane; p++, from += channels, at += stride) {
      out[at] = rgb[from]! * scale - shift;
    }
  }
}

/** Allocates and fills a batch tensor for several images of the model's input size. */
export function buildInputBatch(
  images: readonly (Uint8Array | Uint8ClampedArray)[],
  manifest: Pick<ModelManifest, 'input' | 'preprocess'>,
  channels: 3 | 4 = 3
): { data: Float32Array; dims: [number, number, number, number] } {
  const { width, height, layout } = manifest.input;
  const data = new Float32Array(images.length * 3 * width * height);
  images.forEach((img, i) => writeInputTensor(img, manifest, data, i, channels));
  const dims: [number, number, number, number] =
    layout === 'NCHW' ? [images.length, 3, height, width] : [images.length, height, width, 3];
  return { data, dims };
}
