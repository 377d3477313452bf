import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { averagePrecision, quantile } from '../../bench/quality';
import { scene } from '../helpers/images';
import { EDIT_KINDS, editedCopies } from '../helpers/photo-edits';

/** The pieces under the quality test and benchmark, on a generated picture (no corpus needed). */

describe('editedCopies', () => {
  it('makes every edit as a JPEG of the expected size, the same bytes for the same seed', async () => {
    const original = await scene(400, 300, 5);
    const copies = await editedCopies(original, 'scene', 7);
    expect(copies.map((c) => c.kind)).toEqual([...EDIT_KINDS]);
    const size = async (bytes: Buffer) => {
      const { width, height, format } = await sharp(bytes).metadata();
      expect(format).toBe('jpeg');
      return { width: width!, height: height! };
    };
    const by = Object.fromEntries(copies.map((c) => [c.kind, c]));
    const crop = await size(by.crop!.bytes);
    expect(crop.width / 400).toBeGreaterThanOrEqual(0.6);
    expect(crop.width / 400).toBeLessThanOrEqual(0.9);
    expect(crop.height / 300).toBeGreaterThanOrEqual(0.6);
    expect(crop.height / 300).toBeLessThanOrEqual(0.9);
    expect(await size(by.downscale!.bytes)).toEqual({ width: 120, height: 90 });
    expect(await size(by['rotate-90']!.bytes)).toEqual({ width: 300, height: 400 });
    expect(await size(by.flip!.bytes)).toEqual({ width: 400, height: 300 });
    const small = await size(by['rotate-small']!.bytes);
    expect(small.width).toBeGreaterThan(400);
    const framed = await size(by['caption-border']!.bytes);
    expect(framed.width).toBeGreaterThan(400);
    expect(framed.width - 400).toBe(framed.height - 300);
    const gray = await sharp(by.grayscale!.bytes).toColourspace('srgb').raw().toBuffer();
    let spread = 0;
    for (let i = 0; i < gray.length; i += 3) {
      spread = Math.max(
        spread,
        Math.abs(gray[i]! - gray[i + 1]!),
        Math.abs(gray[i]! - gray[i + 2]!)
      );
    }
    expect(spread).toBeLessThanOrEqual(3);
    // Low quality means fewer bytes than the q90 copies of the same size.
    expect(by['jpeg-q30']!.bytes.length).toBeLessThan(by.flip!.bytes.length);

    const again = await editedCopies(original, 'scene', 7);
    expect(again.map((c) => c.bytes.equals(by[c.kind]!.bytes))).toEqual(copies.map(() => true));
    const otherSeed = await editedCopies(original, 'scene', 8, ['crop']);
    expect(otherSeed[0]!.detail).not.toBe(by.crop!.detail);
  });
});

describe('quality metrics', () => {
  it('averagePrecision: mean of the precision at each relevant item', () => {
    expect(averagePrecision([1, 0, 2], new Set([1, 2]))).toBeCloseTo((1 + 2 / 3) / 2, 10);
    expect(averagePrecision([0, 1], new Set([1]))).toBe(0.5);
    expect(averagePrecision([0, 1], new Set([5]))).toBe(0);
  });

  it('quantile: linear between the nearest ranks', () => {
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(quantile([7], 0.95)).toBe(7);
  });
});
