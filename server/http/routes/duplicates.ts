import { createRoute, z } from '@hono/zod-openapi';
import { TooManyRequestsError } from '../../errors';
import type { Runtime } from '../../runtime';
import type { Collection } from '../../services/collection';
import {
  defaultThreshold,
  findDuplicates,
  SAME_PICTURE_HAMMING,
  type DuplicateSource
} from '../../services/duplicates';
import type { ImageRecord } from '../../stores/catalog';
import { collectionScope, CollectionQuerySchema } from '../collection-scope';
import { createRouter } from '../context';
import { DuplicatesResponseSchema, errors, type DuplicateGroupJson } from '../schemas';
import { imageUrls } from './images';

/** The service's own limit on neighbours per picture (findDuplicates validates 1–1000). */
const MAX_NEIGHBOURS = 1000;
/** Searches with different parameters or collections running at once; more are 429. */
export const MAX_DUPLICATE_SCANS = 2;

const QuerySchema = CollectionQuerySchema.extend({
  threshold: z.coerce
    .number()
    .min(0)
    .max(1)
    .optional()
    .openapi({
      type: 'number',
      minimum: 0,
      maximum: 1,
      description:
        "Cosine similarity that links two pictures; default: the model's measured `strong` band " +
        '(e.g. 0.8 for efficientnet-lite0), else a fixed 0.9 (`thresholdMeasured: false`)'
    }),
  hammingMax: z.coerce.number().int().min(0).max(64).default(SAME_PICTURE_HAMMING).openapi({
    type: 'integer',
    minimum: 0,
    maximum: 64,
    default: SAME_PICTURE_HAMMING,
    description: 'Most difference-hash bits (of 64) apart for `same-picture`'
  }),
  neighbours: z.coerce.number().int().min(1).max(MAX_NEIGHBOURS).default(10).openapi({
    type: 'integer',
    minimum: 1,
    maximum: MAX_NEIGHBOURS,
    default: 10,
    description: 'Nearest neighbours checked per picture'
  })
});

export function duplicateRoutes(runtime: Runtime) {
  const list = createRoute({
    method: 'get',
    path: '/duplicates',
    tags: ['images'],
    summary: 'Groups of duplicates, explained, each with a picture to keep (read-only)',
    description:
      'What `lookalike duplicates` prints: identical files, re-encoded or resized copies of one ' +
      'picture, and look-alikes above the threshold. Nothing is deleted. The work grows with the ' +
      'collection: one nearest-neighbour query per picture (`neighbours` + 1 results), the ' +
      'catalog read 500 pictures at a time, and the paths, hashes and sizes of every picture ' +
      `held in memory while it runs. Identical requests share one search; at most ` +
      `${MAX_DUPLICATE_SCANS} different ones run at once (else 429).`,
    request: { query: QuerySchema },
    responses: {
      200: {
        description: 'The groups',
        content: { 'application/json': { schema: DuplicatesResponseSchema } }
      },
      ...errors(400, 404, 429)
    }
  });
  const scans = new SharedScans<DuplicateGroupJson[]>(MAX_DUPLICATE_SCANS);

  return createRouter().openapi(list, async (c) => {
    const started = performance.now();
    const query = c.req.valid('query');
    const scope = await collectionScope(runtime, query.collection);
    const manifest = scope.model.manifest;
    const fallback = defaultThreshold(manifest);
    const threshold = query.threshold ?? fallback.threshold;
    const { hammingMax, neighbours } = query;
    const key = JSON.stringify([scope.name, threshold, hammingMax, neighbours]);
    const groups = await scans.run(key, () =>
      explainedDuplicates(scope.collection, {
        threshold,
        hammingMax,
        neighbours,
        urlQuery: scope.urlQuery
      })
    );
    return c.json(
      {
        groups,
        model: manifest.id,
        threshold,
        thresholdMeasured: query.threshold !== undefined || fallback.measured,
        hammingMax: query.hammingMax,
        neighbours: query.neighbours,
        tookMs: Math.round((performance.now() - started) * 100) / 100
      },
      200
    );
  });
}

/**
 * A search is one vector query per picture: a page reloaded while one runs joins it instead of
 * starting another, and only `max` different ones run at once.
 */
export class SharedScans<T> {
  readonly #running = new Map<string, Promise<T>>();
  constructor(readonly max: number) {}

  run(key: string, scan: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running) return running;
    if (this.#running.size >= this.max)
      throw new TooManyRequestsError(
        `${this.max} duplicate searches are running already; retry when they are done`,
        2
      );
    const started = scan().finally(() => this.#running.delete(key));
    this.#running.set(key, started);
    return started;
  }
}

type Facts = Pick<ImageRecord, 'width' | 'height' | 'bytes' | 'format'>;

/**
 * The service's groups (findDuplicates, unchanged) with each member's size, format and URLs and a
 * keep-best suggestion. The facts are taken from the pages the service reads anyway, so nothing
 * is read twice; the files' ages come from one catalog query per 500 paths of the groups.
 */
export async function explainedDuplicates(
  collection: Pick<Collection, 'imagesAfter' | 'neighbours' | 'getPaths'>,
  options: {
    threshold: number;
    hammingMax: number;
    neighbours: number;
    urlQuery: string;
    signal?: AbortSignal;
  }
): Promise<DuplicateGroupJson[]> {
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
      ...imageUrls(member.id, options.urlQuery)
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
): DuplicateGroupJson['keep'] {
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
