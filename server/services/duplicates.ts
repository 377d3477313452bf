import { hashGap, SAME_PICTURE_HAMMING } from '#core/dhash';
import type { Banded } from '#core/scores';
import { ValidationError } from '../errors';
import type { ImageRecord } from '../stores/catalog';
import type { Collection } from './collection';

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

/** Defined with the hash (core/dhash.ts): the page's "Hide re-saved copies" uses the same rule. */
export { SAME_PICTURE_HAMMING };

/**
 * Without measured bands (a synthetic or unmeasured model) cosine means nothing known: this
 * fixed value is kept only so such a model still separates a resized copy from other scenes, as
 * the synthetic test models do. It is not a measurement; the CLI says so.
 */
export const UNMEASURED_THRESHOLD = 0.9;

/**
 * The default link threshold for a model: its `strong` band (above every pair of different
 * photographs measured; every re-encoded or resized copy reaches it), else the unmeasured
 * fallback.
 */
export function defaultThreshold(manifest: Banded): { threshold: number; measured: boolean } {
  return manifest.scores
    ? { threshold: manifest.scores.strong, measured: true }
    : { threshold: UNMEASURED_THRESHOLD, measured: false };
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
export type DuplicateSource = Pick<Collection, 'imagesAfter' | 'neighbours'>;

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
 * - `same-picture`: pictures linked by cosine ≥ threshold and difference hashes at most
 *   `hammingMax` bits apart, grouped transitively (re-encoded, resized or recoloured copies);
 * - `similar-scene`: pictures linked by cosine ≥ threshold alone, grouped transitively, when the
 *   group holds more than one picture (crops, captions, other framings, look-alikes). A copy is
 *   then listed twice: with its copies, and with the scene.
 * Links come from each picture's nearest neighbours in the vector index. Pages through the
 * catalog, so memory holds one page of vectors plus the paths and hashes of every picture.
 */
export async function findDuplicates(
  collection: DuplicateSource,
  options: DuplicateOptions
): Promise<DuplicateGroup[]> {
  const {
    threshold,
    hammingMax = SAME_PICTURE_HAMMING,
    neighbours = 10,
    pageSize = 500,
    signal
  } = options;
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

  const pictures = new Map<number, { paths: string[]; dhash: string }>();
  const scores = new Map<string, { a: number; b: number; score: number }>();
  const groups: DuplicateGroup[] = [];

  for (let after = 0; ;) {
    signal?.throwIfAborted();
    const page = await collection.imagesAfter(after, pageSize);
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
      for (const match of await collection.neighbours(image.vector, neighbours + 1)) {
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
    if (pa && pb) links.push({ a, b, score, hamming: hashGap(pa.dhash, pb.dhash) });
  }

  const members = (ids: number[], best: Map<number, number>): DuplicateMember[] =>
    ids.map((id) => ({ id, paths: [...pictures.get(id)!.paths], score: best.get(id)! }));

  // Copies first: pictures joined by links whose hashes also match. Then scenes: pictures joined
  // by any link. A copy can be in both: "these two are one picture" and "these four look alike".
  const copyLinks = links.filter((l) => l.hamming <= hammingMax);
  const copies = connected(copyLinks);
  for (const group of copies) {
    const { ids, best, minScore, maxHamming } = summarise(group);
    groups.push({
      reason: 'same-picture',
      members: members(ids, best),
      explanation:
        `${ids.length} copies of one picture (re-encoded or resized): cosine ≥ ${floor4(minScore)} ` +
        `and difference hashes at most ${maxHamming} of 64 bits apart (limit ${hammingMax})`
    });
  }
  const copyOf = new Map<number, number>();
  copies.forEach((group, i) => group.forEach((l) => (copyOf.set(l.a, i), copyOf.set(l.b, i))));
  for (const scene of connected(links)) {
    const { ids, best, minScore, maxHamming } = summarise(scene);
    // A scene that is all one picture's copies is already listed as that picture.
    const pictureCount = new Set(ids.map((id) => copyOf.get(id) ?? `alone ${id}`)).size;
    if (pictureCount < 2) continue;
    const bits = Number.isFinite(maxHamming) ? `${maxHamming}` : 'incomparable';
    groups.push({
      reason: 'similar-scene',
      members: members(ids, best),
      explanation:
        `${ids.length} similar pictures: cosine ≥ ${floor4(minScore)} (threshold ${threshold}), ` +
        `but not all the same picture (difference hashes up to ${bits} of 64 bits apart, ` +
        `limit ${hammingMax})`
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

/** Rounded down to 4 decimals, so "≥" stays true. */
const floor4 = (x: number) => (Math.floor(x * 1e4) / 1e4).toFixed(4);

/** Linked pictures grouped transitively (union-find): each group's links. */
function connected(links: readonly Link[]): Link[][] {
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
  const groups = new Map<number, Link[]>();
  for (const link of links) {
    const root = find(link.a);
    const list = groups.get(root);
    if (list) list.push(link);
    else groups.set(root, [link]);
  }
  return [...groups.values()];
}

/** A group's pictures in id order, each one's best link, the weakest link and the widest hash gap. */
function summarise(group: readonly Link[]) {
  const best = new Map<number, number>();
  for (const { a, b, score } of group) {
    best.set(a, Math.max(best.get(a) ?? -Infinity, score));
    best.set(b, Math.max(best.get(b) ?? -Infinity, score));
  }
  return {
    ids: [...best.keys()].sort((x, y) => x - y),
    best,
    minScore: Math.min(...group.map((l) => l.score)),
    maxHamming: Math.max(...group.map((l) => l.hamming))
  };
}

type Facts = Pick<ImageRecord, 'width' | 'height' | 'bytes' | 'format'>;

/** A member with the facts people compare copies by. */
export type ExplainedMember = DuplicateMember &
  Facts & {
    /** Each path's mtime (ms) as indexed, where the catalog has it. */
    modified: Record<string, number>;
  };

/** Which member (and which of its files) to keep, and the rule that decided. */
export interface KeepSuggestion {
  id: number;
  path: string;
  why: string;
}

export interface ExplainedGroup extends DuplicateGroup {
  members: ExplainedMember[];
  keep: KeepSuggestion;
}

/**
 * findDuplicates' groups (unchanged) with each member's size, format and file dates and a keep-best
 * suggestion, for people reviewing them. The facts are taken from the pages the search reads
 * anyway, so nothing is read twice; the files' ages come from one catalog query per 500 paths of
 * the groups. Read-only.
 */
export async function explainDuplicates(
  collection: DuplicateSource & Pick<Collection, 'getPaths'>,
  options: DuplicateOptions
): Promise<ExplainedGroup[]> {
  const facts = new Map<number, Facts>();
  const source: DuplicateSource = {
    async imagesAfter(afterId, limit) {
      const page = await collection.imagesAfter(afterId, limit);
      for (const { id, width, height, bytes, format } of page)
        facts.set(id, { width, height, bytes, format });
      return page;
    },
    neighbours: (vector, k) => collection.neighbours(vector, k)
  };
  const groups = await findDuplicates(source, options);

  const paths = [...new Set(groups.flatMap((g) => g.members.flatMap((m) => m.paths)))];
  const mtimes = new Map<string, number>();
  for (let i = 0; i < paths.length; i += 500) {
    options.signal?.throwIfAborted();
    for (const [path, record] of await collection.getPaths(paths.slice(i, i + 500)))
      mtimes.set(path, record.mtimeMs);
  }

  return groups.map((group) => {
    const members = group.members.map((member) => ({
      ...member,
      ...facts.get(member.id)!,
      modified: Object.fromEntries(
        member.paths.flatMap((p) => (mtimes.has(p) ? [[p, mtimes.get(p)!]] : []))
      )
    }));
    return { ...group, members, keep: keepBest(members, mtimes) };
  });
}

/**
 * Lossless formats are usually the source of a copy; camera formats are next; WebP, AVIF and GIF
 * are mostly made for the web from another file.
 */
const FORMAT_RANK: Record<string, number> = { png: 0, tiff: 0, bmp: 0, jpeg: 1, heif: 1, jxl: 1 };
const formatRank = (format: string) => FORMAT_RANK[format] ?? 2;

type Candidate = Facts & { id: number; paths: string[] };

/**
 * The member to keep, and which of its paths: the most pixels, then the better format (see
 * FORMAT_RANK), then the most bytes (the higher-quality encoding of the same pixels), then the
 * oldest file (the first one is usually the original), then the shortest path, then the lowest
 * id so the answer never depends on order. `why` names the rule that decided.
 */
export function keepBest(
  members: readonly Candidate[],
  mtimes: ReadonlyMap<string, number>
): KeepSuggestion {
  // Unknown ages (Infinity) compare equal, never NaN.
  const age = (path: string) => mtimes.get(path) ?? Infinity;
  const byPath = (a: string, b: string) =>
    compare(age(a), age(b)) || a.length - b.length || compare(a, b);
  const ranked = members.map((m) => {
    const path = [...m.paths].sort(byPath)[0]!;
    return { ...m, path, pixels: m.width * m.height, format: m.format.toLowerCase() };
  });
  type Ranked = (typeof ranked)[number];
  const rules: [string, (a: Ranked, b: Ranked) => number][] = [
    ['the most pixels', (a, b) => b.pixels - a.pixels],
    ['the better format', (a, b) => formatRank(a.format) - formatRank(b.format)],
    ['the most bytes', (a, b) => b.bytes - a.bytes],
    ['the oldest file', (a, b) => compare(age(a.path), age(b.path))],
    ['the shortest path', (a, b) => a.path.length - b.path.length],
    ['the first indexed', (a, b) => a.id - b.id]
  ];
  const order = (a: Ranked, b: Ranked) => {
    for (const [, rule] of rules) {
      const d = rule(a, b);
      if (d !== 0) return d;
    }
    return 0;
  };
  const [best, next] = [...ranked].sort(order);
  if (!best) throw new Error('a duplicate group has members');
  const why = next
    ? describe(best, next)
    : best.paths.length > 1
      ? pathWhy(best.paths, byPath, age)
      : 'the only file';
  return { id: best.id, path: best.path, why };

  function describe(a: Ranked, b: Ranked): string {
    const decided = rules.find(([, rule]) => rule(a, b) !== 0)?.[0] ?? 'the first indexed';
    if (decided === 'the most pixels') return `the most pixels (${a.width}×${a.height})`;
    if (decided === 'the better format')
      return `the same pixels in a better format (${a.format.toUpperCase()} over ${b.format.toUpperCase()})`;
    return decided;
  }
}

const compare = <T extends number | string>(a: T, b: T) => (a < b ? -1 : a > b ? 1 : 0);

/** Why one of a picture's own files was chosen (its files all have the same bytes). */
function pathWhy(
  paths: readonly string[],
  byPath: (a: string, b: string) => number,
  age: (path: string) => number
): string {
  const [first, second] = [...paths].sort(byPath);
  if (age(first!) !== age(second!)) return 'the oldest file';
  return first!.length !== second!.length ? 'the shortest path' : 'the first path';
}
