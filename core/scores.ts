import type { ScoreBands } from './model-manifest';

/**
 * Words for cosine scores, from the model's measured bands (models/<id>.json `scores`). One place
 * for the page, the CLI and `lookalike duplicates`, so they never disagree. A model without bands
 * (synthetic, or not measured yet) gets no words at all: a bare number is honest, a word is not.
 */

export type ScoreBand = 'strong' | 'similar' | 'weak';

/** What the page and the CLI say for each band: a short label and a sentence for people. */
export const BAND_WORDS: Record<ScoreBand, { label: string; meaning: string }> = {
  strong: { label: 'Same picture', meaning: 'the same picture or an edited copy of it' },
  similar: { label: 'Similar', meaning: 'looks alike: a heavily edited copy or a similar scene' },
  weak: { label: 'Weak', meaning: 'a weak match: probably a different picture' }
};

/** What the functions read from a manifest (or the browser's model info). */
export interface Banded {
  scores?: ScoreBands | undefined;
}

/** The band of one score, or undefined when the model has no measured bands. */
export function scoreBand(score: number, model: Banded | undefined): ScoreBand | undefined {
  const bands = model?.scores;
  if (!bands || !Number.isFinite(score)) return undefined;
  if (score >= bands.strong) return 'strong';
  if (score >= bands.similar) return 'similar';
  return 'weak';
}

/**
 * Where the weaker matches start in a best-first result list: the first result scoring below
 * max(similar, best − gap). Below `similar` it is weak on its own; more than `gap` below the best
 * it is far weaker than what the list leads with, though maybe still "Similar" (a query's copies
 * sit within `gap` of each other, so they stay together above the line). 0 when even the best is
 * weak; undefined when nothing is weaker, the list is empty, or the model has no bands.
 */
export function weakMatchIndex(
  results: readonly { score: number }[],
  model: Banded | undefined
): number | undefined {
  const bands = model?.scores;
  const best = results[0]?.score;
  if (!bands || best === undefined) return undefined;
  const cut = Math.max(bands.similar, best - bands.gap);
  const index = results.findIndex((r) => !(r.score >= cut));
  return index === -1 ? undefined : index;
}
