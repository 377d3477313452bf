import { BROWSER_LIMITS, EncodeError, formatMebibytes, formatMegapixels } from './errors';
import { blobReader, readImageSize } from './image-size';
import type { Region } from './protocol';

export interface DecodedPixels {
  /** Interleaved RGBA, alpha already composited onto the background (so always opaque). */
  pixels: Uint8ClampedArray;
  width: number;
  height: number;
}

function checkPixels(width: number, height: number): void {
  if (width * height > BROWSER_LIMITS.maxPixels) {
    throw new EncodeError(
      'too-large',
      `The picture is ${width}×${height} (${formatMegapixels(width * height)}), over the ` +
        `${formatMegapixels(BROWSER_LIMITS.maxPixels)} limit.`
    );
  }
}

/**
 * Decodes a picture the way the server's sharp decoder sees it: EXIF orientation applied, colour
 * converted to sRGB (createImageBitmap's default), first frame only, transparent pixels composited
 * onto `background` (drawing onto a canvas filled with it is the same blend as sharp's flatten).
 * `region`, in the oriented picture's pixels, keeps only that part (the page's "crop before
 * searching"). Works in a worker (OffscreenCanvas).
 */
export async function decodeImage(
  image: Blob,
  background: readonly [number, number, number],
  region?: Region
): Promise<DecodedPixels> {
  if (image.size === 0) throw new EncodeError('not-an-image', 'The file is empty (0 bytes).');
  if (image.size > BROWSER_LIMITS.maxFileBytes) {
    throw new EncodeError(
      'too-large',
      `The file is ${formatMebibytes(image.size)}, over the ${formatMebibytes(BROWSER_LIMITS.maxFileBytes)} limit.`
    );
  }
  // From the header first: decoding a huge picture would take seconds and all the memory.
  const declared = await readImageSize(blobReader(image)).catch(() => undefined);
  if (declared) checkPixels(declared.width, declared.height);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(image, { imageOrientation: 'from-image' });
  } catch {
    throw new EncodeError(
      'not-an-image',
      'This file is not a picture this browser can read (JPEG, PNG, WebP, GIF, AVIF…).'
    );
  }
  try {
    const { width, height } = bitmap;
    // Again after decoding, for the formats whose header is not read above.
    checkPixels(width, height);
    const area = clampRegion(region, width, height);
    const canvas = new OffscreenCanvas(area.width, area.height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new EncodeError('model', 'This browser cannot draw pictures off-screen.');
    const [r, g, b] = background;
    context.fillStyle = `rgb(${r}, ${g}, ${b})`;
    context.fillRect(0, 0, area.width, area.height);
    // Whole pixels at 1:1, so no resampling happens here: only core's resize does any.
    context.drawImage(
      bitmap,
      area.x,
      area.y,
      area.width,
      area.height,
      0,
      0,
      area.width,
      area.height
    );
    const data = context.getImageData(0, 0, area.width, area.height).data;
    // Everything is drawn over an opaque fill, so a transparent corner means the browser could
    // not allocate the canvas (it says nothing, the pixels are just empty).
    if (data[3] !== 255 || data[data.length - 1] !== 255) {
      throw new EncodeError(
        'too-large',
        `This browser could not make room for a ${area.width}×${area.height} picture.`
      );
    }
    return { pixels: data, width: area.width, height: area.height };
  } finally {
    bitmap.close();
  }
}

/** The part of the picture to encode: whole pixels, inside the picture, at least 1×1. */
function clampRegion(region: Region | undefined, width: number, height: number): Region {
  if (!region) return { x: 0, y: 0, width, height };
  const values = [region.x, region.y, region.width, region.height];
  if (!values.every(Number.isFinite)) {
    throw new EncodeError('bad-geometry', 'The selected region is not a rectangle.');
  }
  const x = Math.max(0, Math.round(region.x));
  const y = Math.max(0, Math.round(region.y));
  const right = Math.min(width, Math.round(region.x + region.width));
  const bottom = Math.min(height, Math.round(region.y + region.height));
  if (right - x < 1 || bottom - y < 1) {
    throw new EncodeError('bad-geometry', 'The selected region does not cover any of the picture.');
  }
  return { x, y, width: right - x, height: bottom - y };
}
