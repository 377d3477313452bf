import { BAND_WORDS, scoreBand, type Banded } from '#core/scores';

/** Small, locale-aware formatting helpers shared by the page's components. */

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export const formatScore = (score: number) => score.toFixed(3);

/**
 * The word for a score ("Same picture", "Similar", "Weak") and what it means, from the model's
 * measured bands; undefined for a model without them (synthetic: its scores mean nothing).
 */
export function scoreWords(score: number, model: Banded | undefined) {
  const band = scoreBand(score, model);
  return band ? { band, ...BAND_WORDS[band] } : undefined;
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** "just now", "5 minutes ago", "3 days ago": how old a saved copy is. */
export function relativeTime(then: number, now = Date.now()): string {
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 45) return 'just now';
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['minute', 60],
    ['hour', 3600],
    ['day', 86_400],
    ['week', 604_800],
    ['month', 2_592_000],
    ['year', 31_536_000]
  ];
  let unit: Intl.RelativeTimeFormatUnit = 'minute';
  let size = 60;
  for (const [name, length] of units) {
    if (seconds >= length) [unit, size] = [name, length];
  }
  return new Intl.RelativeTimeFormat('en', { numeric: 'auto' }).format(
    -Math.round(seconds / size),
    unit
  );
}

/** The last part of a path (works for / and \ separators). */
export const fileName = (path: string) => path.split(/[\\/]/).pop() || path;
