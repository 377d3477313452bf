import { describe, expect, it } from 'vitest';
import { dot } from '#core/vector';
import { ValidationError } from '../../server/errors';
import {
  defaultThreshold,
  findDuplicates,
  type DuplicateGroup,
  type DuplicateSource
} from '../../server/services/duplicates';
import type { ImageWithPaths } from '../../server/stores/catalog';

/**
 * findDuplicates on a hand-made collection: 8-d unit vectors placed at chosen angles, so every
 * cosine is known exactly, and difference hashes with chosen Hamming distances.
 */

const DIM = 8;
const ZERO_HASH = '0000000000000000';

/** A unit vector in the plane of axes `plane` and `plane + 1`, at `angle` from the first. */
function inPlane(plane: number, angle: number): Float32Array {
  const v = new Float32Array(DIM);
  v[plane] = Math.cos(angle);
  v[plane + 1] = Math.sin(angle);
  return v;
}

/** A hash `bits` bits away from ZERO_HASH. */
function hashAway(bits: number): string {
  const value = bits === 64 ? (1n << 64n) - 1n : (1n << BigInt(bits)) - 1n;
  return value.toString(16).padStart(16, '0');
}

interface Picture {
  id: number;
  paths: string[];
  vector: Float32Array;
  dhash: string;
}

const picture = (id: number, vector: Float32Array, dhash = ZERO_HASH, paths?: string[]) => ({
  id,
  paths: paths ?? [`/photos/${id}.jpg`],
  vector,
  dhash
});

const acos = Math.acos;

/**
 * - 1, 2: cosine 0.99, hashes 2 bits apart → same picture.
 * - 3, 4, 5: 3–4 0.95, 4–5 0.93, 3–5 below 0.9, hashes far apart → one look-alike group (chain).
 * - 6: one picture, two files → same bytes, no neighbour above the threshold.
 * - 7: alone; the index also has a vector (id 99) close to it whose catalog row is gone.
 * - 8, 9, 10: 8–9 same picture (1 bit), 8–10 0.92 with far hashes → 8 and 9 are copies of
 *   one picture, and all three are a look-alike group.
 */
function collection(): Picture[] {
  return [
    picture(1, inPlane(0, 0)),
    picture(2, inPlane(0, acos(0.99)), hashAway(2)),
    picture(3, inPlane(2, 0), hashAway(0)),
    picture(4, inPlane(2, acos(0.95)), hashAway(20)),
    picture(5, inPlane(2, acos(0.95) + acos(0.93)), hashAway(40)),
    picture(6, inPlane(4, 0), ZERO_HASH, ['/photos/6.jpg', '/backup/6.jpg']),
    picture(7, inPlane(5, 0)),
    picture(8, inPlane(6, 0)),
    picture(9, inPlane(6, acos(0.98)), hashAway(1)),
    picture(10, inPlane(6, -acos(0.92)), hashAway(30))
  ];
}

/** The catalog and a brute-force index over the same pictures (plus stray index entries). */
function source(
  pictures: Picture[],
  strays: { id: number; vector: Float32Array }[] = []
): DuplicateSource & { pagesRead: number } {
  const entries = [...pictures, ...strays];
  const self = {
    pagesRead: 0,
    async imagesAfter(afterId: number, limit: number) {
      self.pagesRead++;
      return pictures
        .filter((p) => p.id > afterId)
        .sort((a, b) => a.id - b.id)
        .slice(0, limit)
        .map((p): ImageWithPaths & { vector: Float32Array } => ({
          id: p.id,
          contentHash: `hash-${p.id}`,
          width: 10,
          height: 10,
          bytes: 100,
          format: 'jpeg',
          dhash: p.dhash,
          state: 'indexed',
          paths: [...p.paths],
          vector: p.vector
        }));
    },
    async neighbours(query: Float32Array, k: number) {
      return entries
        .map((e) => ({ id: e.id, score: dot(query, e.vector) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, k);
    }
  };
  return self;
}

const summary = (groups: DuplicateGroup[]) =>
  groups.map((g) => [g.reason, g.members.map((m) => m.id)]);

describe('findDuplicates', () => {
  it('tells identical files, copies of one picture and look-alikes apart', async () => {
    const pictures = collection();
    const stray = { id: 99, vector: inPlane(5, acos(0.97)) };
    const groups = await findDuplicates(source(pictures, [stray]), { threshold: 0.9 });
    expect(summary(groups)).toEqual([
      ['same-bytes', [6]],
      ['same-picture', [1, 2]],
      ['same-picture', [8, 9]],
      ['similar-scene', [3, 4, 5]],
      ['similar-scene', [8, 9, 10]]
    ]);
    const [bytes, same, copies, chain, mixed] = groups;
    expect(bytes!.members[0]!.paths).toEqual(['/photos/6.jpg', '/backup/6.jpg']);
    expect(bytes!.members[0]!.score).toBeUndefined();
    expect(bytes!.explanation).toMatch(/2 identical files/);

    expect(same!.members.map((m) => m.score)).toEqual([
      expect.closeTo(0.99, 5),
      expect.closeTo(0.99, 5)
    ]);
    expect(same!.explanation).toMatch(/re-encoded or resized.*at most 2 of 64 bits/);
    expect(copies!.explanation).toMatch(/cosine ≥ 0\.(9799|9800) and .*at most 1 of 64 bits/);

    // Each member's score is its best link: 3 and 5 are not linked to each other.
    expect(chain!.members.map((m) => m.score)).toEqual([
      expect.closeTo(0.95, 5),
      expect.closeTo(0.95, 5),
      expect.closeTo(0.93, 5)
    ]);
    expect(chain!.explanation).toMatch(/cosine ≥ 0\.9299 \(threshold 0\.9\)/);
    expect(mixed!.explanation).toMatch(
      /not all the same picture.*up to 30 of 64 bits apart, limit 8/
    );
    // The copies' members keep their best link overall: 8's is to 9 (0.98), 10's to 8 (0.92).
    expect(mixed!.members.map((m) => m.score)).toEqual([
      expect.closeTo(0.98, 5),
      expect.closeTo(0.98, 5),
      expect.closeTo(0.92, 5)
    ]);
  });

  it('links more or fewer pictures as the threshold and hash limit change', async () => {
    const pictures = collection();
    // Above 0.95 only the copies of one picture and the 8–9 pair are left.
    expect(summary(await findDuplicates(source(pictures), { threshold: 0.96 }))).toEqual([
      ['same-bytes', [6]],
      ['same-picture', [1, 2]],
      ['same-picture', [8, 9]]
    ]);
    // A hash limit of 1 bit turns 1–2 (2 bits apart) into look-alikes.
    expect(
      summary(await findDuplicates(source(pictures), { threshold: 0.96, hammingMax: 1 }))
    ).toEqual([
      ['same-bytes', [6]],
      ['same-picture', [8, 9]],
      ['similar-scene', [1, 2]]
    ]);
    // Allowing every bit to differ makes every linked group "the same picture".
    const lax = await findDuplicates(source(pictures), { threshold: 0.9, hammingMax: 64 });
    expect(lax.filter((g) => g.reason === 'similar-scene')).toEqual([]);
    expect(lax.filter((g) => g.reason === 'same-picture')).toHaveLength(3);
  });

  it('pages through the catalog without losing links across pages', async () => {
    const pictures = collection();
    const whole = await findDuplicates(source(pictures), { threshold: 0.9 });
    const paged = source(pictures);
    expect(await findDuplicates(paged, { threshold: 0.9, pageSize: 3 })).toEqual(whole);
    expect(paged.pagesRead).toBe(4); // 10 pictures, 3 a page
  });

  it('only looks at the nearest neighbours it is asked for', async () => {
    // P–Q 0.99, P–R 0.95, R–S 0.97; every other pair is below 0.9.
    const row = [
      picture(1, inPlane(0, 0)),
      picture(2, inPlane(0, acos(0.99))),
      picture(3, inPlane(0, -acos(0.95))),
      picture(4, inPlane(0, -acos(0.95) - acos(0.97)))
    ];
    const all = await findDuplicates(source(row), { threshold: 0.9 });
    expect(summary(all)).toEqual([['same-picture', [1, 2, 3, 4]]]);
    // With one neighbour each, P and R find Q and S first: the P–R link is never seen.
    const nearest = await findDuplicates(source(row), { threshold: 0.9, neighbours: 1 });
    expect(summary(nearest)).toEqual([
      ['same-picture', [1, 2]],
      ['same-picture', [3, 4]]
    ]);
    // A picture alone has no duplicates, whatever the threshold.
    expect(await findDuplicates(source([picture(1, inPlane(0, 0))]), { threshold: 0 })).toEqual([]);
  });

  it('refuses options out of range', async () => {
    const s = source(collection());
    for (const options of [
      { threshold: 1.5 },
      { threshold: Number.NaN },
      { threshold: 0.9, hammingMax: 65 },
      { threshold: 0.9, neighbours: 0 }
    ]) {
      await expect(findDuplicates(s, options)).rejects.toBeInstanceOf(ValidationError);
    }
  });
});

describe('defaultThreshold', () => {
  it("is the model's strong band, or a fixed fallback said to be unmeasured", () => {
    const bands = { strong: 0.8, similar: 0.6, gap: 0.15, measured: 'by hand' };
    expect(defaultThreshold({ scores: bands })).toEqual({ threshold: 0.8, measured: true });
    expect(defaultThreshold({})).toEqual({ threshold: 0.9, measured: false });
  });
});
