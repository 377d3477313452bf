import { readFile, stat, type FileHandle } from 'node:fs/promises';
import sharp, { type ResizeOptions, type Sharp } from 'sharp';
import type { ModelManifest } from '#core/model-manifest';
import { ImageGeometryError, planResize, type ResizePlan } from '#core/preprocess';
import { resizeForModel } from '#core/resize';
import {
  ImageRejectedError,
  type DecodedImage,
  type DecoderLimits,
  type ImageDecoder
} from './image-decoder';

const KERNELS = {
  bicubic: sharp.kernel.cubic, // Catmull-Rom, like PIL's and torchvision's bicubic
  bilinear: sharp.kernel.linear,
  nearest: sharp.kernel.nearest,
  lanczos3: sharp.kernel.lanczos3
} as const;

/**
 * Whether to resample with core's Pillow-exact resize (the browser's) instead of libvips: for
 * bicubic whenever an axis is enlarged. libvips enlarges on a grid half a source pixel off Pillow's
 * (`o·in/out` against `(o + 0.5)·in/out`), several levels off on every edge (embedding cosine
 * down to 0.96 with real weights); such pictures are small (shorter side under the model's), so
 * resizing them in JavaScript costs a few milliseconds. Shrinking stays in libvips (in steps, see
 * MAX_SHRINK_STEP): a fraction of a level from Pillow on average, it streams instead of holding the
 * whole decoded picture and runs off the event loop, where core's resize would block it for
 * 100–300 ms on a 12 MP photo.
 */
function usesCoreResize(
  width: number,
  height: number,
  plan: ResizePlan,
  interpolation: ModelManifest['preprocess']['interpolation']
): boolean {
  return interpolation === 'bicubic' && (plan.resizeWidth > width || plan.resizeHeight > height);
}

/**
 * libvips' largest bicubic shrink without a box filter first: from 4× on its `reduce` box-shrinks
 * by the integer part of half the factor, which Pillow never does (real-weight embedding cosine
 * to Pillow's down to 0.993 at 8×). Shrinking in equal steps under this keeps every step plain
 * cubic (0.9992 at worst over 23 photos shrunk 1.4–12×), with 8-bit pictures between steps.
 */
const MAX_SHRINK_STEP = 3.95;

/** Sizes to shrink to before the plan's, each step under MAX_SHRINK_STEP (none below it). */
function shrinkSteps(width: number, height: number, plan: ResizePlan): [number, number][] {
  const [fx, fy] = [width / plan.resizeWidth, height / plan.resizeHeight];
  const count = Math.ceil(Math.log(Math.max(fx, fy)) / Math.log(MAX_SHRINK_STEP));
  const steps: [number, number][] = [];
  for (let i = 1; i < count; i++) {
    steps.push([Math.round(width / fx ** (i / count)), Math.round(height / fy ** (i / count))]);
  }
  return steps;
}

/** EXIF orientations 5–8 turn the picture by 90°, swapping its width and height. */
const swapsAxes = (orientation: number | undefined) => (orientation ?? 1) >= 5;

/**
 * Decodes with sharp (libvips): EXIF orientation applied, alpha flattened onto the manifest's
 * background, converted to 8-bit sRGB, first frame of animations, then resized and cropped as the
 * manifest's plan says (enlarging with core's resize, as the browser does: `usesCoreResize`). Size
 * and pixel limits are checked from the header before any decoding.
 */
export class SharpImageDecoder implements ImageDecoder {
  constructor(private readonly limits: DecoderLimits) {}

  async decode(
    input: string | Uint8Array,
    manifest: Pick<ModelManifest, 'input' | 'preprocess'>
  ): Promise<DecodedImage> {
    const bytes = typeof input === 'string' ? await this.read(input) : input;
    if (bytes.length === 0) throw new ImageRejectedError('empty', 'File is empty (0 bytes)');
    this.checkFileSize(bytes.length);

    const header = await sharp(bytes, { limitInputPixels: false })
      .metadata()
      .catch((error: unknown) => {
        throw toRejection(error);
      });
    const rawWidth = header.width ?? 0;
    // Multi-frame images report the frame height separately; only the first frame is decoded.
    const rawHeight = header.pageHeight ?? header.height ?? 0;
    if (rawWidth * rawHeight > this.limits.maxPixels) {
      throw new ImageRejectedError(
        'too-many-pixels',
        `Image is ${rawWidth}×${rawHeight} (${megapixels(rawWidth * rawHeight)} MP), over the ` +
          `${megapixels(this.limits.maxPixels)} MP limit (LOOKALIKE_MAX_PIXELS)`
      );
    }
    const [width, height] = swapsAxes(header.orientation)
      ? [rawHeight, rawWidth]
      : [rawWidth, rawHeight];
    const { preprocess } = manifest;
    let plan: ResizePlan;
    try {
      plan = planResize(width, height, preprocess);
    } catch (error) {
      if (error instanceof ImageGeometryError)
        throw new ImageRejectedError('bad-geometry', error.message);
      throw error;
    }
    const [r, g, b] = preprocess.background;

    // Pixels as shown (EXIF orientation applied), transparency on the background, 8-bit sRGB.
    const upright = sharp(bytes, { limitInputPixels: this.limits.maxPixels, pages: 1 })
      .rotate()
      .flatten({ background: { r, g, b } })
      .toColourspace('srgb');
    const { interpolation } = preprocess;
    let pixels: Uint8Array | Uint8ClampedArray;
    if (usesCoreResize(width, height, plan, interpolation)) {
      pixels = resizeForModel(await rgb(upright), width, height, 3, plan, interpolation);
    } else {
      const options: ResizeOptions = {
        fit: 'fill',
        kernel: KERNELS[interpolation],
        // Browser parity: the browser decodes at full size, so JPEG is decoded at 1/2, 1/4 or 1/8
        // scale only when at least twice that much shrinking is left for the cubic filter, WebP
        // never. Shrinking on load all the way (`true`: a third less decode time) gave pixels 4
        // (224 px input) to 15 (64 px) levels off a full decode on fine detail (a 12 px wave).
        fastShrinkOnLoad: false
      };
      let image = upright;
      if (interpolation === 'bicubic') {
        for (const [w, h] of shrinkSteps(width, height, plan)) {
          const step = await rgb(image.resize(w, h, options));
          image = sharp(step, { raw: { width: w, height: h, channels: 3 } });
        }
      }
      pixels = await rgb(
        image.resize(plan.resizeWidth, plan.resizeHeight, options).extract(plan.crop)
      );
    }

    if (pixels.length !== manifest.input.width * manifest.input.height * 3) {
      throw new Error(
        `Decoder produced ${pixels.length} bytes, expected ` +
          `${manifest.input.width}×${manifest.input.height}×3`
      );
    }
    return {
      pixels: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength),
      width,
      height,
      format: header.format ?? 'unknown',
      fileBytes: bytes.length
    };
  }

  private checkFileSize(bytes: number): void {
    if (bytes > this.limits.maxFileBytes) {
      throw new ImageRejectedError(
        'file-too-large',
        `File is ${mebibytes(bytes)} MiB, over the ${mebibytes(this.limits.maxFileBytes)} MiB limit ` +
          `(LOOKALIKE_MAX_FILE_BYTES)`
      );
    }
  }

  /** Reads a file, checking its size first so a huge file is refused without loading it. */
  async read(file: string | FileHandle): Promise<Uint8Array> {
    try {
      const info = typeof file === 'string' ? await stat(file) : await file.stat();
      if (!info.isFile()) throw new ImageRejectedError('unreadable', 'Not a regular file');
      this.checkFileSize(info.size);
      return await (typeof file === 'string' ? readFile(file) : file.readFile());
    } catch (error) {
      if (error instanceof ImageRejectedError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'File does not exist (or vanished)'
          : code === 'EACCES' || code === 'EPERM'
            ? 'Permission denied'
            : `Cannot read file (${code ?? String(error)})`;
      throw new ImageRejectedError('unreadable', why);
    }
  }
}

/** A pipeline's output as 8-bit RGB; libvips' errors become rejections. */
async function rgb(image: Sharp): Promise<Uint8Array> {
  const { data, info } = await image
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((error: unknown) => {
      throw toRejection(error);
    });
  if (info.channels !== 3) throw new Error(`Decoder produced ${info.channels} channels, not 3`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Maps libvips' messages to reasons a person can act on. */
function toRejection(error: unknown): ImageRejectedError {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format|bad seek|not a known file format/i.test(message)) {
    return new ImageRejectedError('unsupported-format', 'Not an image in a supported format');
  }
  if (/pixel limit/i.test(message)) {
    return new ImageRejectedError(
      'too-many-pixels',
      `Image is over the pixel limit (LOOKALIKE_MAX_PIXELS)`
    );
  }
  return new ImageRejectedError('corrupt', `Cannot decode image: ${message.split('\n')[0]}`);
}

const megapixels = (pixels: number) => Math.round(pixels / 1e5) / 10;
const mebibytes = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
