import { createRoute, z } from '@hono/zod-openapi';
import type { Runtime } from '../../runtime';
import type { SearchHit } from '../../services/collection';
import type { EncodeLimiter } from '../../services/encode-limiter';
import { createRouter } from '../context';
import { errors, ImageFileSchema, SearchResponseSchema, TopKSchema } from '../schemas';
import { checkUploadSize } from '../upload-limits';
import { imageUrls } from './images';

export function searchRoutes(
  { collection, embedder, model, config }: Runtime,
  limiter: EncodeLimiter
) {
  const byVector = createRoute({
    method: 'post',
    path: '/search',
    tags: ['search'],
    summary: 'Most similar pictures to a query vector',
    description:
      `The vector comes from the same model as the collection (${model.manifest.id}, ` +
      `${model.manifest.dimension} values), usually encoded in the browser; it is L2-normalised here.`,
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.object({
              vector: z
                .array(z.number())
                .min(1)
                .max(65536)
                .openapi({
                  description: `${model.manifest.dimension} finite numbers, not all zero`,
                  minItems: model.manifest.dimension,
                  maxItems: model.manifest.dimension
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
      ...errors(400, 413)
    }
  });

  const byImage = createRoute({
    method: 'post',
    path: '/search/image',
    tags: ['search'],
    summary: 'Most similar pictures to an uploaded picture (encoded on the server)',
    request: {
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
      ...errors(400, 413, 503)
    }
  });

  return createRouter()
    .openapi(byVector, async (c) => {
      const started = performance.now();
      const { vector, topK } = c.req.valid('json');
      const results = withUrls(await collection.search(vector, topK));
      return c.json({ results, tookMs: elapsed(started) }, 200);
    })
    .openapi(byImage, async (c) => {
      const started = performance.now();
      const { image, topK } = c.req.valid('form');
      const bytes = await checkUploadSize(image, config.maxUploadBytes);
      const vector = await limiter.run(() => embedder.embedOne(bytes));
      const results = withUrls(await collection.search(vector, topK));
      return c.json({ results, tookMs: elapsed(started) }, 200);
    });
}

const withUrls = (hits: readonly SearchHit[]) =>
  hits.map((hit) => ({ ...hit, ...imageUrls(hit.id) }));

const elapsed = (started: number) => Math.round((performance.now() - started) * 100) / 100;
