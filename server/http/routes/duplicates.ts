import { createRoute, z } from '@hono/zod-openapi';
import { TooManyRequestsError } from '../../errors';
import type { Runtime } from '../../runtime';
import {
  defaultThreshold,
  explainDuplicates,
  SAME_PICTURE_HAMMING
} from '../../services/duplicates';
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
    const groups = await scans.run(key, async () =>
      (await explainDuplicates(scope.collection, { threshold, hammingMax, neighbours })).map(
        (group) => ({
          ...group,
          members: group.members.map((m) => ({ ...m, ...imageUrls(m.id, scope.urlQuery) }))
        })
      )
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
