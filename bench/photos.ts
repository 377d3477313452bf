import sharp from 'sharp';

/**
 * The `n`-th photo-like JPEG (q85): smooth colour waves plus noise, different for every `n`;
 * 1024×768 (the size a phone gallery is usually shrunk to) unless another size is asked for
 * (500×375 is Pascal VOC's). Deterministic, so runs compare.
 */
export function photoJpeg(n: number, width = 1024, height = 768): Promise<Buffer> {
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
