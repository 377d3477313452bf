import { createRoute, z } from '@hono/zod-openapi';
import type { Runtime } from '../../runtime';
import { createRouter } from '../context';

export const HealthSchema = z
  .object({
    status: z
      .enum(['ok', 'degraded'])
      .openapi({ description: '`degraded` when a store is unreachable' }),
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

const health = createRoute({
  method: 'get',
  path: '/health',
  tags: ['status'],
  summary: 'Server, model and store status',
  responses: {
    200: { description: 'Up', content: { 'application/json': { schema: HealthSchema } } }
  }
});

/** In-process stores have no ping: they are reachable whenever the server is. */
const reachable = async (store: { ping?: () => Promise<boolean> }) =>
  store.ping ? store.ping().catch(() => false) : true;

export function healthRoutes({ model, stores, collection }: Runtime) {
  return createRouter().openapi(health, async (c) => {
    const [catalogUp, vectorsUp] = await Promise.all([
      reachable(collection.catalog),
      reachable(collection.index)
    ]);
    return c.json(
      {
        status: catalogUp && vectorsUp ? ('ok' as const) : ('degraded' as const),
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
