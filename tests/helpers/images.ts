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

export function rawImage(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4 = 3
) {
  return sharp(Buffer.from(pixels), { raw: { width, height, channels } });
}

/**
 * A colourful scene whose layout depends on the seed (wave directions, frequencies and colours),
 * plus a little noise, so distinct seeds give clearly distinct pictures and embeddings.
 */
export function scenePixels(width: number, height: number, seed: number): Uint8Array {
  const noise = patternPixels(width, height, seed);
  const r = (k: number) => ((seed * 9301 + k * 49297) % 233280) / 233280;
  const waves = [0, 1, 2].map((c) => ({
    fx: (r(c) - 0.5) * 0.08,
    fy: (r(c + 3) - 0.5) * 0.08,
    phase: r(c + 6) * 6.28,
    base: 60 + r(c + 9) * 130
  }));
  const px = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const w = waves[c]!;
        const i = (y * width + x) * 3 + c;
        const value = w.base + 70 * Math.sin(w.fx * x + w.fy * y + w.phase) + (noise[i]! - 128) / 8;
        px[i] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return px;
}

export async function scene(
  width: number,
  height: number,
  seed: number,
  format: 'jpeg' | 'png' = 'jpeg'
) {
  const img = rawImage(scenePixels(width, height, seed), width, height);
  return format === 'jpeg' ? img.jpeg({ quality: 90 }).toBuffer() : img.png().toBuffer();
}
