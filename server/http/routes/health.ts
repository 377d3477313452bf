import { createRoute, z } from '@hono/zod-openapi';
import type { Runtime } from '../../runtime';
import { createRouter } from '../context';

export const HealthSchema = z
  .object({
    status: z.literal('ok'),
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
      vectors: z.string().openapi({ example: 'usearch-hnsw' })
    }),
    count: z.int().openapi({ description: 'Distinct pictures in the collection' })
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

export function healthRoutes({ model, stores, collection }: Runtime) {
  return createRouter().openapi(health, async (c) =>
    c.json(
      {
        status: 'ok' as const,
        model: {
          id: model.manifest.id,
          name: model.manifest.name,
          dimension: model.manifest.dimension,
          synthetic: model.manifest.synthetic,
          source: model.source,
          ...(model.warning ? { warning: model.warning } : {})
        },
        stores: { catalog: stores.catalog, vectors: stores.vectors },
        count: await collection.count()
      },
      200
    )
  );
}
