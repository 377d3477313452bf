import { statfs } from 'node:fs/promises';
import { createRoute, z } from '@hono/zod-openapi';
import type { Runtime } from '../../runtime';
import { createRouter } from '../context';
import { formatBytes } from '../errors';

export const HealthSchema = z
  .object({
    status: z.enum(['ok', 'degraded']).openapi({
      description: "`degraded` when a store is unreachable or the data directory's disk is full"
    }),
    reason: z.string().optional().openapi({
      description: 'Why the status is `degraded`',
      example: 'disk full: 0 bytes free for the data directory (/var/lib/lookalike)'
    }),
    model: z.object({
      id: z.string(),
      name: z.string(),
      dimension: z.int(),
      synthetic: z.boolean(),
      source: z.enum(['file', 'cache', 'generated', 'fallback']),
      warning: z.string().optional().openapi({
        description: 'Set when the model has random weights: search results mean nothing'
      })
    }),
    stores: z.object({
      catalog: z.string().openapi({ example: 'sqlite' }),
      vectors: z.string().openapi({ example: 'usearch-hnsw' }),
      reachable: z.object({ catalog: z.boolean(), vectors: z.boolean() })
    }),
    count: z
      .int()
      .nullable()
      .openapi({ description: 'Distinct pictures (null while the catalog is unreachable)' })
  })
  .openapi('Health');

/** What /api/health says while `serve` gets ready (the model's first download); nothing else answers yet. */
export const StartingHealthSchema = z
  .object({
    status: z.literal('starting').openapi({
      description: 'Getting ready; every other endpoint answers 503 `starting` until then'
    }),
    model: z
      .object({
        id: z.string(),
        name: z.string(),
        downloading: z
          .object({
            receivedBytes: z.int(),
            totalBytes: z.int().nullable().openapi({ description: 'null until the host says' })
          })
          .optional()
      })
      .optional()
  })
  .openapi('StartingHealth');

export type StartingHealth = z.infer<typeof StartingHealthSchema>;

const health = createRoute({
  method: 'get',
  path: '/health',
  tags: ['status'],
  summary: 'Server, model and store status',
  responses: {
    200: {
      description: 'Up, or still starting',
      content: {
        'application/json': { schema: z.union([HealthSchema, StartingHealthSchema]) }
      }
    }
  }
});

/** In-process stores have no ping: they are reachable whenever the server is. */
/** Less free space than this, and SQLite, thumbnails and uploads start failing: call it full. */
export const LOW_DISK_BYTES = 1024 * 1024;

/** Why the data directory cannot take more writes, if it cannot. */
async function diskProblem(dataDir: string): Promise<string | undefined> {
  const fs = await statfs(dataDir).catch(() => undefined);
  if (!fs) return undefined; // not created yet, or a filesystem without statfs: nothing to say
  const free = fs.bavail * fs.bsize;
  if (free >= LOW_DISK_BYTES) return undefined;
  return `disk full: ${formatBytes(free)} free for the data directory (${dataDir})`;
}

export function healthRoutes({ model, stores, collection, config }: Runtime) {
  return createRouter().openapi(health, async (c) => {
    const [{ catalog: catalogUp, vectors: vectorsUp }, disk] = await Promise.all([
      collection.reachable(),
      diskProblem(config.dataDir)
    ]);
    const reasons = [
      ...(catalogUp ? [] : [`catalog (${stores.catalog}) unreachable`]),
      ...(vectorsUp ? [] : [`vector index (${stores.vectors}) unreachable`]),
      ...(disk ? [disk] : [])
    ];
    return c.json(
      {
        status: reasons.length === 0 ? ('ok' as const) : ('degraded' as const),
        ...(reasons.length > 0 ? { reason: reasons.join('; ') } : {}),
        model: {
          id: model.manifest.id,
          name: model.manifest.name,
          dimension: model.manifest.dimension,
          synthetic: model.manifest.synthetic,
          source: model.source,
          ...(model.warning ? { warning: model.warning } : {})
        },
        stores: {
          catalog: stores.catalog,
          vectors: stores.vectors,
          reachable: { catalog: catalogUp, vectors: vectorsUp }
        },
        count: catalogUp ? await collection.count() : null
      },
      200
    );
  });
}

/** /api/health of the stand-in app `serve` runs until the real one is ready. */
export function startingHealthRoutes(status: () => StartingHealth) {
  return createRouter().openapi(health, (c) => c.json(status(), 200));
}
