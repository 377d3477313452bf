import { describe, expect, it } from 'vitest';
import {
  centredRegion,
  displayedToImage,
  rectFromPoints,
  regionFromFields,
  regionToPercent
} from './crop';
import { nextIndex } from './grid-navigation';

describe('crop maths', () => {
  it('maps a rectangle drawn on a scaled-down preview to image pixels', () => {
    // A 4000×3000 photo shown 400×300: every displayed pixel is 10 image pixels.
    const region = displayedToImage(
      { x: 40, y: 30, width: 200, height: 150 },
      { width: 400, height: 300 },
      { width: 4000, height: 3000 }
    );
    expect(region).toEqual({ x: 400, y: 300, width: 2000, height: 1500 });
  });

  it('scales each axis on its own (fractional CSS sizes) and rounds to whole pixels', () => {
    const region = displayedToImage(
      { x: 10.2, y: 5.5, width: 33.3, height: 20.1 },
      { width: 333.3, height: 187.5 },
      { width: 1000, height: 600 }
    );
    expect(region).toEqual({ x: 31, y: 18, width: 100, height: 64 });
  });

  it('keeps the region inside the image and at least one pixel', () => {
    const natural = { width: 100, height: 50 };
    const displayed = { width: 200, height: 100 };
    expect(displayedToImage({ x: 150, y: 60, width: 100, height: 80 }, displayed, natural)).toEqual(
      { x: 75, y: 30, width: 25, height: 20 }
    );
    expect(
      displayedToImage({ x: 199.9, y: 99.9, width: 0, height: 0 }, displayed, natural)
    ).toEqual({ x: 99, y: 49, width: 1, height: 1 });
  });

  it('builds the same rectangle whichever way the drag goes, clamped to the preview', () => {
    const bounds = { width: 300, height: 200 };
    expect(rectFromPoints({ x: 250, y: 150 }, { x: 50, y: 20 }, bounds)).toEqual({
      x: 50,
      y: 20,
      width: 200,
      height: 130
    });
    expect(rectFromPoints({ x: -20, y: 10 }, { x: 400, y: 260 }, bounds)).toEqual({
      x: 0,
      y: 10,
      width: 300,
      height: 190
    });
  });

  it('centres the keyboard preset and draws a region as percentages', () => {
    expect(centredRegion({ width: 1001, height: 600 }, 0.5)).toEqual({
      x: 250,
      y: 150,
      width: 501,
      height: 300
    });
    expect(
      regionToPercent({ x: 250, y: 150, width: 500, height: 300 }, { width: 1000, height: 600 })
    ).toEqual({ x: 25, y: 25, width: 50, height: 50 });
  });
});

describe('typed crop region', () => {
  const natural = { width: 160, height: 120 };

  it('takes a region inside the picture as typed, and trims one that runs past the edge', () => {
    expect(regionFromFields({ x: 10, y: 20, width: 50, height: 40 }, natural)).toEqual({
      ok: true,
      region: { x: 10, y: 20, width: 50, height: 40 }
    });
    expect(regionFromFields({ x: 100, y: 100, width: 500, height: 500 }, natural)).toEqual({
      ok: true,
      region: { x: 100, y: 100, width: 60, height: 20 }
    });
  });

  it.each([
    [{ x: 1.5, y: 0, width: 10, height: 10 }, /whole numbers/],
    [{ x: Number.NaN, y: 0, width: 10, height: 10 }, /whole numbers/],
    [{ x: 160, y: 0, width: 10, height: 10 }, /left edge must be 0–159/],
    [{ x: 0, y: -1, width: 10, height: 10 }, /top 0–119/],
    [{ x: 0, y: 0, width: 0, height: 10 }, /at least 1/]
  ])('refuses %j with a message', (fields, message) => {
    const result = regionFromFields(fields, natural);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('grid keyboard navigation', () => {
  // 10 results, 4 per row: 0-3 / 4-7 / 8-9.
  it.each([
    [5, 'ArrowRight', 6],
    [5, 'ArrowLeft', 4],
    [5, 'ArrowDown', 9],
    [5, 'ArrowUp', 1],
    [6, 'ArrowDown', 6],
    [1, 'ArrowUp', 1],
    [9, 'ArrowRight', 9],
    [0, 'ArrowLeft', 0],
    [6, 'Home', 0],
    [2, 'End', 9]
  ])('from %i, %s goes to %i', (from, key, to) => {
    expect(nextIndex(from, key, 10, 4)).toBe(to);
  });

  it('ignores other keys and empty grids', () => {
    expect(nextIndex(0, 'Enter', 10, 4)).toBeUndefined();
    expect(nextIndex(0, 'ArrowRight', 0, 4)).toBeUndefined();
  });
});
