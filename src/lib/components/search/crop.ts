/** A rectangle in some coordinate space (displayed CSS pixels, or image pixels). */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Size {
  width: number;
  height: number;
}

/** A drag is smaller than this (CSS px, either side) is treated as a click, not a crop. */
export const MIN_DRAG_PX = 8;

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** The rectangle spanned by two drag points, whichever way the drag went, kept inside `bounds`. */
export function rectFromPoints(
  a: { x: number; y: number },
  b: { x: number; y: number },
  bounds: Size
): Rect {
  const x1 = clamp(Math.min(a.x, b.x), 0, bounds.width);
  const y1 = clamp(Math.min(a.y, b.y), 0, bounds.height);
  const x2 = clamp(Math.max(a.x, b.x), 0, bounds.width);
  const y2 = clamp(Math.max(a.y, b.y), 0, bounds.height);
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

/**
 * Maps a rectangle drawn on the displayed preview to whole image pixels. The preview shows the
 * whole picture scaled (no letterboxing), so each axis scales independently; the result is
 * rounded outward-safe and clamped so it always lies inside the image and is at least 1×1.
 */
export function displayedToImage(rect: Rect, displayed: Size, natural: Size): Rect {
  if (displayed.width <= 0 || displayed.height <= 0) throw new Error('The preview has no size');
  const sx = natural.width / displayed.width;
  const sy = natural.height / displayed.height;
  const x = clamp(Math.round(rect.x * sx), 0, natural.width - 1);
  const y = clamp(Math.round(rect.y * sy), 0, natural.height - 1);
  const right = clamp(Math.round((rect.x + rect.width) * sx), x + 1, natural.width);
  const bottom = clamp(Math.round((rect.y + rect.height) * sy), y + 1, natural.height);
  return { x, y, width: right - x, height: bottom - y };
}

/** The centred region covering `fraction` of each side: the keyboard alternative to dragging. */
export function centredRegion(natural: Size, fraction: number): Rect {
  const width = Math.max(1, Math.round(natural.width * fraction));
  const height = Math.max(1, Math.round(natural.height * fraction));
  return {
    x: Math.floor((natural.width - width) / 2),
    y: Math.floor((natural.height - height) / 2),
    width,
    height
  };
}

/** A region as percentages of the image, to draw it over a preview of any displayed size. */
export function regionToPercent(region: Rect, natural: Size): Rect {
  return {
    x: (region.x / natural.width) * 100,
    y: (region.y / natural.height) * 100,
    width: (region.width / natural.width) * 100,
    height: (region.height / natural.height) * 100
  };
}

/**
 * The region typed into the crop's number fields (image pixels: left, top, width, height), kept
 * inside the picture; or a sentence saying what to fix. The keyboard's way to crop precisely.
 */
export function regionFromFields(
  fields: Record<keyof Rect, number>,
  natural: Size
): { ok: true; region: Rect } | { ok: false; message: string } {
  const { x, y, width, height } = fields;
  if (![x, y, width, height].every(Number.isInteger)) {
    return { ok: false, message: 'Enter whole numbers of pixels.' };
  }
  if (x < 0 || y < 0 || x >= natural.width || y >= natural.height) {
    return {
      ok: false,
      message: `The left edge must be 0–${natural.width - 1} and the top 0–${natural.height - 1}.`
    };
  }
  if (width < 1 || height < 1)
    return { ok: false, message: 'Width and height must be at least 1.' };
  return {
    ok: true,
    region: {
      x,
      y,
      width: Math.min(width, natural.width - x),
      height: Math.min(height, natural.height - y)
    }
  };
}
