import { hammingDistance } from '../../src/lib/core/dhash';
import { ValidationError } from '../errors';
import type { Catalog } from '../stores/catalog';
import type { VectorIndex } from '../stores/vector-index';

export type DuplicateReason = 'same-bytes' | 'same-picture' | 'similar-scene';

export interface DuplicateMember {
  id: number;
  paths: string[];
  /** Best cosine similarity to another member of the group (picture groups only). */
  score?: number;
}

export interface DuplicateGroup {
  reason: DuplicateReason;
  members: DuplicateMember[];
  /** One sentence for people: why these belong together. */
  explanation: string;
}

export interface DuplicateOptions {
  /** Cosine similarity at or above which two pictures are linked. */
  threshold: number;
  /** Most differing difference-hash bits for a link to count as "the same picture". */
  hammingMax?: number;
  /** Nearest neighbours looked at per picture. */
  neighbours?: number;
  /** Images read from the catalog at a time. */
  pageSize?: number;
  signal?: AbortSignal;
}

/** What the search needs from a collection (a `Collection` is one). */
export interface DuplicateSource {
  catalog: Pick<Catalog, 'imagesAfter'>;
  index: Pick<VectorIndex, 'search'>;
}

interface Link {
  a: number;
  b: number;
  score: number;
  hamming: number;
}

const ORDER: Record<DuplicateReason, number> = {
  'same-bytes': 0,
  'same-picture': 1,
  'similar-scene': 2
};

/**
 * Finds duplicate groups in a collection:
 * - `same-bytes`: one picture stored under several paths (identical files);
 * - `same-picture`: pictures linked by cosine ≥ threshold whose every link also has difference
 *   hashes at most `hammingMax` bits apart (re-encoded or resized copies);
 * - `similar-scene`: the other linked groups (cosine ≥ threshold, but visibly different).
 * Links come from each picture's nearest neighbours in the vector index; linked pictures are
 * grouped transitively (union-find). Pages through the catalog, so memory holds one page of
 * vectors plus the paths and hashes of every picture.
 */
export async function findDuplicates(
  collection: DuplicateSource,
  options: DuplicateOptions
): Promise<DuplicateGroup[]> {
  const { threshold, hammingMax = 6, neighbours = 10, pageSize = 500, signal } = options;
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1)
    throw new ValidationError(`threshold must be a number from 0 to 1, not ${threshold}`);
  if (!Number.isInteger(hammingMax) || hammingMax < 0 || hammingMax > 64)
    throw new ValidationError(`hammingMax must be a whole number from 0 to 64, not ${hammingMax}`);
  if (!Number.isInteger(neighbours) || neighbours < 1 || neighbours > 1000)
    throw new ValidationError(
      `neighbours must be a whole number from 1 to 1000, not ${neighbours}`
    );
  if (!Number.isInteger(pageSize) || pageSize < 1)
    throw new ValidationError(`pageSize must be a positive whole number, not ${pageSize}`);

  const { catalog, index } = collection;
  const pictures = new Map<number, { paths: string[]; dhash: string }>();
  const scores = new Map<string, { a: number; b: number; score: number }>();
  const groups: DuplicateGroup[] = [];

  for (let after = 0; ;) {
    signal?.throwIfAborted();
    const page = await catalog.imagesAfter(after, pageSize);
    for (const image of page) {
      if (image.paths.length === 0) continue;
      pictures.set(image.id, { paths: image.paths, dhash: image.dhash });
      if (image.paths.length >= 2) {
        groups.push({
          reason: 'same-bytes',
          members: [{ id: image.id, paths: [...image.paths] }],
          explanation: `${image.paths.length} identical files (same bytes, SHA-256): one picture stored ${image.paths.length} times`
        });
      }
      // One more than asked for: the picture itself is normally its own best match.
      for (const match of await index.search(image.vector, neighbours + 1)) {
        if (match.id === image.id || !(match.score >= threshold)) continue;
        const [a, b] = match.id < image.id ? [match.id, image.id] : [image.id, match.id];
        const key = `${a}:${b}`;
        const known = scores.get(key);
        if (!known || match.score > known.score) scores.set(key, { a, b, score: match.score });
      }
    }
    if (page.length < pageSize) break;
    after = page[page.length - 1]!.id;
  }

  // Links to pictures the catalog no longer has (removed meanwhile) are dropped.
  const links: Link[] = [];
  for (const { a, b, score } of scores.values()) {
    const pa = pictures.get(a);
    const pb = pictures.get(b);
    if (pa && pb) links.push({ a, b, score, hamming: hamming(pa.dhash, pb.dhash) });
  }

  const parent = new Map<number, number>();
  const find = (x: number): number => {
    let root = x;
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root)!;
    // Path compression.
    for (let y = x; y !== root;) {
      const next = parent.get(y)!;
      parent.set(y, root);
      y = next;
    }
    return root;
  };
  for (const { a, b } of links) {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(Math.max(ra, rb), Math.min(ra, rb));
  }

  const components = new Map<number, Link[]>();
  for (const link of links) {
    const root = find(link.a);
    const list = components.get(root);
    if (list) list.push(link);
    else components.set(root, [link]);
  }

  for (const componentLinks of components.values()) {
    const best = new Map<number, number>();
    for (const { a, b, score } of componentLinks) {
      best.set(a, Math.max(best.get(a) ?? -Infinity, score));
      best.set(b, Math.max(best.get(b) ?? -Infinity, score));
    }
    const ids = [...best.keys()].sort((x, y) => x - y);
    const minScore = Math.min(...componentLinks.map((l) => l.score));
    const maxHamming = Math.max(...componentLinks.map((l) => l.hamming));
    const samePicture = maxHamming <= hammingMax;
    // Rounded down, so "≥" stays true.
    const cosine = (Math.floor(minScore * 1e4) / 1e4).toFixed(4);
    const bits = Number.isFinite(maxHamming) ? `${maxHamming}` : 'incomparable';
    groups.push({
      reason: samePicture ? 'same-picture' : 'similar-scene',
      members: ids.map((id) => ({
        id,
        paths: [...pictures.get(id)!.paths],
        score: best.get(id)!
      })),
      explanation: samePicture
        ? `${ids.length} copies of one picture (re-encoded or resized): cosine ≥ ${cosine} and ` +
          `difference hashes at most ${bits} of 64 bits apart (limit ${hammingMax})`
        : `${ids.length} similar pictures: cosine ≥ ${cosine} (threshold ${threshold}), but not ` +
          `the same picture (difference hashes up to ${bits} of 64 bits apart, limit ${hammingMax})`
    });
  }

  const firstId = (g: DuplicateGroup) => g.members[0]?.id ?? 0;
  const size = (g: DuplicateGroup) =>
    g.reason === 'same-bytes' ? (g.members[0]?.paths.length ?? 0) : g.members.length;
  // Identical files first, then copies, then look-alikes; bigger groups first within each.
  return groups.sort(
    (x, y) => ORDER[x.reason] - ORDER[y.reason] || size(y) - size(x) || firstId(x) - firstId(y)
  );
}

/** Hashes of different lengths (another hash version) never count as the same picture. */
function hamming(a: string, b: string): number {
  return a.length === b.length && a.length > 0 ? hammingDistance(a, b) : Infinity;
}
