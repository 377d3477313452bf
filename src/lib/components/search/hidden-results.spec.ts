import { describe, expect, it } from 'vitest';
import { hideResults, type HideableHit } from './hidden-results';

const bands = { strong: 0.8, similar: 0.6, gap: 0.15, measured: 'test' };
const hit = (id: number, score: number, dhash?: string, isQuery = false): HideableHit => ({
  id,
  score,
  ...(dhash ? { dhash } : {}),
  ...(isQuery ? { isQuery } : {})
});
/** A hash `bits` bits away from 0000000000000000. */
const away = (bits: number) =>
  (BigInt(2) ** BigInt(bits) - BigInt(1)).toString(16).padStart(16, '0');

const both = { hideQuery: true, hideCopies: true };

describe('hideResults', () => {
  it('hides nothing unless asked', () => {
    const hits = [hit(1, 1, away(0), true), hit(2, 0.99, away(0))];
    expect(hideResults(hits, { hideQuery: false, hideCopies: false }, bands).hidden).toEqual(
      new Map()
    );
  });

  it('hides the picture searched with: the hit the session marked as the same file', () => {
    const hits = [hit(1, 0.9999, away(0), true), hit(2, 0.97, away(30)), hit(3, 0.5, away(50))];
    const { hidden } = hideResults(hits, { hideQuery: true, hideCopies: false }, bands);
    expect(hidden).toEqual(new Map([[1, 'query']]));
  });

  it('does not hide a look-alike for scoring about 1: only the same file is the picture itself', () => {
    const { hidden } = hideResults([hit(1, 0.99999, away(0))], both, bands);
    expect(hidden.size).toBe(0);
  });

  it('hides copies of a better result: "Same picture" both, hashes at most 8 bits apart', () => {
    const hits = [
      hit(1, 0.97, away(0)),
      hit(2, 0.95, away(8)), // a re-encoded copy of 1
      hit(3, 0.92, away(9)), // 9 bits from 1, but 1 bit from 2: not a copy of a shown one
      hit(4, 0.7, away(1)) // close hash, but only "Similar": not called a copy
    ];
    const { hidden } = hideResults(hits, { hideQuery: false, hideCopies: true }, bands);
    expect(hidden).toEqual(new Map([[2, 'copy']]));
  });

  it('hides the copies of the picture itself with it, when both are asked', () => {
    const hits = [hit(1, 1, away(0), true), hit(2, 0.96, away(2)), hit(3, 0.95, away(40))];
    expect(hideResults(hits, both, bands).hidden).toEqual(
      new Map([
        [1, 'query'],
        [2, 'copy']
      ])
    );
    // Copies alone: the picture itself stays, as the first of its copies.
    const copiesOnly = hideResults(hits, { hideQuery: false, hideCopies: true }, bands);
    expect(copiesOnly.hidden).toEqual(new Map([[2, 'copy']]));
  });

  it('uses the hash alone for a model without bands, and says so', () => {
    const hits = [hit(1, 0.3, away(0)), hit(2, 0.1, away(4))];
    const result = hideResults(hits, { hideQuery: false, hideCopies: true }, undefined);
    expect(result.hidden).toEqual(new Map([[2, 'copy']]));
    expect(result.copiesByHashOnly).toBe(true);
    expect(hideResults(hits, both, bands).copiesByHashOnly).toBe(false);
  });

  it('cannot tell copies or the query among results without hashes (the offline copy)', () => {
    const hits = [hit(1, 1), hit(2, 0.99)];
    const result = hideResults(hits, both, bands);
    expect(result.hidden.size).toBe(0);
    expect(result.canTell).toBe(false);
    expect(hideResults([hit(1, 1, away(0))], both, bands).canTell).toBe(true);
  });

  it('does not call two hits without a hash (empty) copies of each other, as the server does not', () => {
    const hits: HideableHit[] = [
      { id: 1, score: 0.97, dhash: '' },
      { id: 2, score: 0.95, dhash: '' }
    ];
    expect(hideResults(hits, both, bands).hidden.size).toBe(0);
  });
});
