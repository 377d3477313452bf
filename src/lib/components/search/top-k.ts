export const TOP_K_MIN = 1;
export const TOP_K_MAX = 100;

/** A whole number of results between 1 and 100, or a sentence saying what is wrong. */
export function parseTopK(
  text: string
): { ok: true; value: number } | { ok: false; message: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, message: 'Enter how many results to show (1–100).' };
  const value = Number(trimmed);
  if (!Number.isInteger(value))
    return { ok: false, message: 'Enter a whole number from 1 to 100.' };
  if (value < TOP_K_MIN || value > TOP_K_MAX) {
    return { ok: false, message: `Enter a number from ${TOP_K_MIN} to ${TOP_K_MAX}.` };
  }
  return { ok: true, value };
}
