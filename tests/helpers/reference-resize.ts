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
