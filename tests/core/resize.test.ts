import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { planResize } from '#core/preprocess';
import {
  resizeForModel,
  resizePixels,
  resizeRegion,
  UnsupportedInterpolationError
} from '#core/resize';
import { getManifest } from '../../server/models/registry';
import { patternPixels, smoothPixels, scenePixels } from '../helpers/images';
import {
  channelMeans,
  diffFromPillow,
  pillowCases,
  pillowSource,
  referenceResize,
  sha256
} from '../helpers/reference-resize';

/** libvips (sharp's `cubic` kernel, what the server's decoder uses) on the same raw pixels. */
async function sharpResize(px: Uint8Array, w: number, h: number, ow: number, oh: number) {
  const out = await sharp(Buffer.from(px), { raw: { width: w, height: h, channels: 3 } })
    .resize(ow, oh, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
  return new Uint8Array(out);
}

function diff(a: ArrayLike<number>, b: ArrayLike<number>) {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

describe('resizePixels gives Pillow’s bicubic pixels (tests/fixtures/resize)', () => {
  // Enlarging (the shorter side under 256) and shrinking, on gradients, checkerboards, stripes,
  // noise and photo crops; Pillow's output from tests/reference/resize_reference.py.
  for (const c of pillowCases()) {
    it(`${c.file}: ${c.width}×${c.height} → ${c.resizeWidth}×${c.resizeHeight}, crop 224`, async () => {
      const px = await pillowSource(c);
      expect(sha256(px), 'the source decodes as Pillow read it').toBe(c.sourceSha256);
      const full = { left: 0, top: 0, width: c.resizeWidth, height: c.resizeHeight };
      const resized = resizePixels(px, c.width, c.height, 3, c.resizeWidth, c.resizeHeight);
      // The contract: within a fraction of a level on average and 2 at most (libvips' enlarging
      // grid, half a source pixel off, misses by 2–100 levels here).
      const d = diffFromPillow(c, resized, full);
      expect(d.compared).toBe(c.samples.length);
      expect(d.max).toBeLessThanOrEqual(2);
      expect(d.mean).toBeLessThanOrEqual(0.5);
      // And in fact Pillow's arithmetic step for step: the same bytes.
      expect(sha256(resized)).toBe(c.resizedSha256);
      const input = resizeForModel(px, c.width, c.height, 3, c, 'bicubic');
      expect(sha256(input)).toBe(c.cropSha256);
      channelMeans(input).forEach((m, ch) => expect(m).toBeCloseTo(c.cropMean[ch]!, 3));
    });
  }
});

describe('resizePixels stays close to sharp/libvips cubic when shrinking', () => {
  // [input w, h, output w, h]: libvips `reduce`, which the server still uses for shrinking.
  // (Enlarging is not compared: libvips samples on a grid half a source pixel off Pillow's, and
  // the server enlarges with this resizer instead.)
  const shapes: [number, number, number, number][] = [
    [640, 512, 320, 256],
    [1024, 768, 341, 256],
    [2000, 400, 1280, 256],
    [1200, 900, 341, 256],
    [400, 300, 341, 256]
  ];
  for (const [w, h, ow, oh] of shapes) {
    it(`${w}×${h} → ${ow}×${oh}`, async () => {
      // Photo-like content: within a level or two everywhere, a fraction of a level on average.
      const scene = scenePixels(w, h, w + h);
      const onScene = diff(
        resizePixels(scene, w, h, 3, ow, oh),
        await sharpResize(scene, w, h, ow, oh)
      );
      expect(onScene.max).toBeLessThanOrEqual(2);
      expect(onScene.mean).toBeLessThan(0.35);
      // Noise is the worst case for rounding differences, but a misplaced sample would be far
      // worse (a half-pixel shift gives a mean of 6–50 here).
      const noise = patternPixels(w, h, 7);
      const onNoise = diff(
        resizePixels(noise, w, h, 3, ow, oh),
        await sharpResize(noise, w, h, ow, oh)
      );
      expect(onNoise.mean).toBeLessThan(1);
    });
  }

  it('keeps flat colour exactly flat, including at the borders', () => {
    const px = new Uint8Array(50 * 40 * 3);
    for (let i = 0; i < px.length; i += 3) px.set([200, 17, 99], i);
    for (const [ow, oh] of [
      [13, 11],
      [50, 40],
      [171, 133]
    ] as const) {
      const out = resizePixels(px, 50, 40, 3, ow, oh);
      for (let i = 0; i < out.length; i += 3) {
        expect([out[i], out[i + 1], out[i + 2]]).toEqual([200, 17, 99]);
      }
    }
  });

  it('agrees with the independent reference resampler when shrinking', () => {
    const px = smoothPixels(640, 512);
    const d = diff(
      resizePixels(px, 640, 512, 3, 320, 256),
      referenceResize(px, 640, 512, 3, 320, 256)
    );
    expect(d.max).toBeLessThanOrEqual(1);
  });

  it('is the identity at the same size', () => {
    const px = patternPixels(33, 21, 5);
    expect(Array.from(resizePixels(px, 33, 21, 3, 33, 21))).toEqual(Array.from(px));
  });
});

describe('resizeRegion and resizeForModel', () => {
  it('computes exactly the crop of the full resize', () => {
    const px = scenePixels(300, 200, 4);
    const full = resizePixels(px, 300, 200, 3, 150, 100);
    const region = { left: 20, top: 15, width: 64, height: 48 };
    const part = resizeRegion(px, 300, 200, 3, 150, 100, region);
    for (let y = 0; y < region.height; y++) {
      const start = ((region.top + y) * 150 + region.left) * 3;
      expect(Array.from(part.subarray(y * 64 * 3, (y + 1) * 64 * 3))).toEqual(
        Array.from(full.subarray(start, start + 64 * 3))
      );
    }
  });

  it('turns canvas RGBA into the model input RGB by the manifest plan', async () => {
    const manifest = getManifest('synthetic-resnet50');
    const [w, h] = [1024, 768];
    const rgb = scenePixels(w, h, 9);
    const rgba = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = 255;
    }
    const plan = planResize(w, h, manifest.preprocess); // 341×256, centre 224×224 at (58, 16)
    const input = resizeForModel(rgba, w, h, 4, plan, manifest.preprocess.interpolation);
    expect(input.length).toBe(224 * 224 * 3);
    const expected = await sharp(Buffer.from(rgb), { raw: { width: w, height: h, channels: 3 } })
      .resize(plan.resizeWidth, plan.resizeHeight, { fit: 'fill', kernel: 'cubic' })
      .extract(plan.crop)
      .raw()
      .toBuffer();
    const d = diff(input, expected);
    expect(d.max).toBeLessThanOrEqual(2);
    expect(d.mean).toBeLessThan(0.3);
  });

  it('refuses the filters it does not implement instead of resampling them as bicubic', () => {
    const plan = planResize(64, 48, getManifest('synthetic-resnet50').preprocess);
    const px = new Uint8Array(64 * 48 * 3);
    for (const interpolation of ['bilinear', 'nearest', 'lanczos3'] as const) {
      expect(() => resizeForModel(px, 64, 48, 3, plan, interpolation)).toThrow(
        new UnsupportedInterpolationError(interpolation)
      );
      expect(() => resizeForModel(px, 64, 48, 3, plan, interpolation)).toThrow(
        `this model's interpolation ${interpolation} is not supported in the browser`
      );
    }
    expect(resizeForModel(px, 64, 48, 3, plan, 'bicubic')).toHaveLength(
      plan.crop.width * plan.crop.height * 3
    );
  });

  it('refuses a region outside the resized picture and mismatched pixel buffers', () => {
    const px = new Uint8Array(10 * 10 * 3);
    expect(() =>
      resizeRegion(px, 10, 10, 3, 20, 20, { left: 10, top: 0, width: 11, height: 5 })
    ).toThrow(/outside/);
    expect(() => resizePixels(px, 10, 9, 3, 5, 5)).toThrow(/Expected 270 bytes/);
    expect(() =>
      resizeRegion(px, 10, 10, 3, 5, 5, { left: 0, top: 0, width: 5, height: 5 }, 4)
    ).toThrow(/channels/);
  });
});
