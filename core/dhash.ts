/**
 * Difference hash: a 64-bit fingerprint of a picture's coarse brightness gradients. Re-encoded or
 * resized copies of one picture differ in only a few bits, unlike their bytes — the cheap,
 * model-independent signal behind "same picture" duplicate groups.
 */
export function differenceHash(rgb: Uint8Array, width: number, height: number): string {
  const cols = 9;
  const rows = 8;
  const cells = new Float64Array(cols * rows);
  const counts = new Uint32Array(cols * rows);
  for (let y = 0; y < height; y++) {
    const row = Math.min(rows - 1, Math.floor((y * rows) / height));
    for (let x = 0; x < width; x++) {
      const col = Math.min(cols - 1, Math.floor((x * cols) / width));
      const i = (y * width + x) * 3;
      // Rec. 601 luma
      cells[row * cols + col]! += 0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!;
      counts[row * cols + col]! += 1;
    }
  }
  let hex = '';
  for (let r = 0; r < rows; r++) {
    let byte = 0;
    for (let c = 0; c < cols - 1; c++) {
      const left = cells[r * cols + c]! / Math.max(1, counts[r * cols + c]!);
      const right = cells[r * cols + c + 1]! / Math.max(1, counts[r * cols + c + 1]!);
      byte = (byte << 1) | (left > right ? 1 : 0);
    }
    hex += byte.toString(16).padStart(2, '0');
  }
  return hex;
}

/**
 * Most difference-hash bits apart for "the same picture", measured with EfficientNet-Lite0's
 * input pixels (the hash is taken from the model's 224×224 crop) on the photo corpus: every
 * re-encoded (JPEG q30/q75, WebP), resized, recoloured or grayscale copy was within 8 bits;
 * crops were 11 or more, another framing of the scene 14 or more, a flip 7 or more (2 %
 * within 8). A caption border is within 8 bits 15 % of the time (a thin band barely moves
 * the coarse gradients). The hash does not depend on the model's weights, so it holds for
 * models without measured bands too.
 */
export const SAME_PICTURE_HAMMING = 8;

/** Number of differing bits between two hex hashes of equal length. */
export function hammingDistance(a: string, b: string): number {
  if (a.length !== b.length) throw new Error('Hashes differ in length');
  let distance = 0;
  for (let i = 0; i < a.length; i += 2) {
    let x = parseInt(a.slice(i, i + 2), 16) ^ parseInt(b.slice(i, i + 2), 16);
    while (x) {
      distance += x & 1;
      x >>= 1;
    }
  }
  return distance;
}

/**
 * How far apart two pictures' hashes are, for the same-picture rule: Infinity when either is
 * missing (empty) or they differ in length (another hash version), so neither ever counts as a
 * copy of anything.
 */
export function hashGap(a: string, b: string): number {
  return a.length === b.length && a.length > 0 ? hammingDistance(a, b) : Infinity;
}

/**
 * Whether two difference hashes say "the same picture" (re-encoded, resized or recoloured):
 * at most `limit` bits apart. The one rule behind the server's duplicate groups and the page's
 * "Hide re-saved copies"; the model's "Same picture" score band is checked by the caller.
 */
export function samePictureHash(a: string, b: string, limit = SAME_PICTURE_HAMMING): boolean {
  return hashGap(a, b) <= limit;
}
