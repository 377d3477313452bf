import sharp from 'sharp';

/** Deterministic generated test pictures (no binary fixtures in the repo). */

/** A smooth, asymmetric RGB picture: gradients plus a low-frequency wave, different per channel. */
export function smoothPixels(width: number, height: number): Uint8Array {
  const px = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      px[i] = Math.round((255 * x) / (width - 1));
      px[i + 1] = Math.round((255 * y) / (height - 1));
      px[i + 2] = Math.round(127.5 + 100 * Math.sin((x + 2 * y) / 23));
    }
  }
  return px;
}

/** Noise-like pixels: any shift or resampling shows up. */
export function patternPixels(width: number, height: number, seed = 1): Uint8Array {
  const px = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < px.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    px[i] = s >> 23;
  }
  return px;
}

export function rawImage(pixels: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4 = 3) {
  return sharp(Buffer.from(pixels), { raw: { width, height, channels } });
}

/** A colourful scene with shapes, so distinct pictures give distinct embeddings. */
export async function scene(width: number, height: number, seed: number, format: 'jpeg' | 'png' = 'jpeg') {
  const pixels = smoothPixels(width, height);
  const noise = patternPixels(width, height, seed);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (pixels[i]! * 3 + noise[i]!) >> 2;
  const img = rawImage(pixels, width, height);
  return format === 'jpeg' ? img.jpeg({ quality: 90 }).toBuffer() : img.png().toBuffer();
}
