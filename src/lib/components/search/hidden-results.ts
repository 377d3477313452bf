import { samePictureHash } from '#core/dhash';
import type { ScoreBands } from '#core/model-manifest';

/** What the result view can hide: the picture searched with, and copies of a better result. */
export interface HidingChoice {
  hideQuery: boolean;
  hideCopies: boolean;
}

/** What a hit needs for the rules: hashes are missing on results from the offline copy. */
export interface HideableHit {
  id: number;
  score: number;
  dhash?: string | undefined;
  /** The very file searched with (same bytes); set by the search session. */
  isQuery?: boolean | undefined;
}

export type HiddenReason = 'query' | 'copy';

export interface Hiding {
  /** Hidden hits by id, and why. */
  hidden: Map<number, HiddenReason>;
  /** False when the hits carry no hashes (the offline copy): nothing can be told apart. */
  canTell: boolean;
  /** True when copies are told by the hash alone (a model without measured score bands). */
  copiesByHashOnly: boolean;
}

/**
 * Which results to hide, best first as the list comes.
 *
 * - The picture itself: only a hit with the query's very bytes (identical files are one picture,
 *   so that is one hit). A score of about 1 is not enough: a re-encoded copy scores that too,
 *   and it is a different file the person may be looking for.
 * - Copies: a hit whose difference hash says "same picture" (samePictureHash, core/dhash.ts) with
 *   a result shown before it (or with the picture itself, when that is hidden too: then its
 *   copies go with it, and only other pictures remain), both in the model's "Same picture" band
 *   — `lookalike duplicates`' rule for re-encoded or resized copies, with the query standing in for their pairwise score (both are
 *   the same picture as the query). A model without bands has no such band: the hash decides
 *   alone (it does not depend on the model), and `copiesByHashOnly` says so.
 */
export function hideResults(
  hits: readonly HideableHit[],
  choice: HidingChoice,
  bands: ScoreBands | undefined
): Hiding {
  const hidden = new Map<number, HiddenReason>();
  const canTell = hits.some((hit) => hit.dhash !== undefined);
  const samePicture = (hit: HideableHit) => !bands || hit.score >= bands.strong;
  /** The first of each picture: shown, or the query hidden as itself (its copies go with it). */
  const firsts: HideableHit[] = [];
  for (const hit of hits) {
    if (choice.hideQuery && hit.isQuery) {
      hidden.set(hit.id, 'query');
      firsts.push(hit);
      continue;
    }
    const copyOfShown =
      choice.hideCopies &&
      hit.dhash !== undefined &&
      samePicture(hit) &&
      firsts.some(
        (kept) =>
          kept.dhash !== undefined && samePicture(kept) && samePictureHash(kept.dhash, hit.dhash!)
      );
    if (copyOfShown) hidden.set(hit.id, 'copy');
    else firsts.push(hit);
  }
  return { hidden, canTell, copiesByHashOnly: bands === undefined };
}
