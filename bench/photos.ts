import sharp from 'sharp';

/**
 * The `n`-th photo-like 1024×768 JPEG (q85): smooth colour waves plus noise, different for every
 * `n` — the size a phone gallery is usually shrunk to. Deterministic, so runs compare.
 */
export function photoJpeg(n: number): Promise<Buffer> {
  const width = 1024;
  const height = 768;
  const px = new Uint8Array(width * height * 3);
  let s = n + 1;
  for (let i = 0; i < px.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const p = i / 3;
    const wave =
      128 + 90 * Math.sin(((p % width) * (n + 3)) / 200 + Math.floor(p / width) / 97 + (i % 3) + n);
    px[i] = Math.max(0, Math.min(255, wave + ((s >> 24) - 64) / 4));
  }
  return sharp(px, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}
