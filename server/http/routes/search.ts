import { createRoute, z } from '@hono/zod-openapi';
import type { Runtime } from '../../runtime';
import type { SearchHit } from '../../services/collection';
import type { EncodeLimiter } from '../../services/encode-limiter';
import { collectionScope, CollectionQuerySchema } from '../collection-scope';
import { createRouter } from '../context';
import { errors, ImageFileSchema, SearchResponseSchema, TopKSchema } from '../schemas';
import { checkUploadSize } from '../upload-limits';
import { imageUrls } from './images';

export function searchRoutes(runtime: Runtime, limiter: EncodeLimiter) {
  const { model, config } = runtime;
  const byVector = createRoute({
    method: 'post',
    path: '/search',
    tags: ['search'],
    summary: 'Most similar pictures to a query vector',
    description:
      "The vector comes from the collection's model (GET /api/model?collection=…; the default " +
      `collection's is ${model.manifest.id}, ${model.manifest.dimension} values), usually encoded ` +
      'in the browser; it is L2-normalised here.',
    request: {
      query: CollectionQuerySchema,
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.object({
              vector: z.array(z.number()).min(1).max(65536).openapi({
                description: "As many finite numbers as the collection's model gives, not all zero"
              }),
              topK: TopKSchema
            })
          }
        }
      }
    },
    responses: {
      200: {
        description: 'Best matches first',
        content: { 'application/json': { schema: SearchResponseSchema } }
      },
      ...errors(400, 404, 413)
    }
  });

  const byImage = createRoute({
    method: 'post',
    path: '/search/image',
    tags: ['search'],
    summary: 'Most similar pictures to an uploaded picture (encoded on the server)',
    request: {
      query: CollectionQuerySchema,
      body: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: z.object({ image: ImageFileSchema, topK: TopKSchema })
          }
        }
      }
    },
    responses: {
      200: {
        description: 'Best matches first',
        content: { 'application/json': { schema: SearchResponseSchema } }
      },
      ...errors(400, 404, 413, 503)
    }
  });

  return createRouter()
    .openapi(byVector, async (c) => {
      const started = performance.now();
      const { vector, topK } = c.req.valid('json');
      const scope = await collectionScope(runtime, c.req.valid('query').collection);
      const results = withUrls(await scope.collection.search(vector, topK), scope.urlQuery);
      return c.json({ results, tookMs: elapsed(started) }, 200);
    })
    .openapi(byImage, async (c) => {
      const started = performance.now();
      const { image, topK } = c.req.valid('form');
      const bytes = await checkUploadSize(image, config.maxUploadBytes);
      const scope = await collectionScope(runtime, c.req.valid('query').collection);
      const vector = await limiter.run(() => scope.embedder.embedOne(bytes));
      const results = withUrls(await scope.collection.search(vector, topK), scope.urlQuery);
      return c.json({ results, tookMs: elapsed(started) }, 200);
    });
}

const withUrls = (hits: readonly SearchHit[], urlQuery: string) =>
  hits.map((hit) => ({ ...hit, ...imageUrls(hit.id, urlQuery) }));

const elapsed = (started: number) => Math.round((performance.now() - started) * 100) / 100;
