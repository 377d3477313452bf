import { createRoute, z } from '@hono/zod-openapi';
import type { Runtime } from '../../runtime';
import type { EncodeLimiter } from '../../services/encode-limiter';
import { collectionScope, CollectionQuerySchema } from '../collection-scope';
import { createRouter } from '../context';
import { errors, ImageFileSchema } from '../schemas';
import { checkUploadSize } from '../upload-limits';

const EncodeResponseSchema = z
  .object({
    vector: z.array(z.number()).openapi({ description: "Unit vector (the model's dimension)" }),
    modelId: z.string(),
    dimension: z.int(),
    tookMs: z.number()
  })
  .openapi('EncodeResponse');

/**
 * POST /api/encode: a picture's vector computed on the server, exactly as indexing computes it.
 * The web app's /check page compares it with the vector the browser computes for the same file.
 */
export function encodeRoutes(runtime: Runtime, limiter: EncodeLimiter) {
  const { config } = runtime;
  const encode = createRoute({
    method: 'post',
    path: '/encode',
    tags: ['diagnostics'],
    summary: "A picture's vector, encoded on the server",
    description:
      'Decoded and embedded like indexing does it, so it can be compared with the vector the ' +
      'browser encodes for the same file (cosine ≥ 0.999 is the contract). With the ' +
      "collection's model.",
    request: {
      query: CollectionQuerySchema,
      body: {
        required: true,
        content: { 'multipart/form-data': { schema: z.object({ image: ImageFileSchema }) } }
      }
    },
    responses: {
      200: {
        description: 'The vector',
        content: { 'application/json': { schema: EncodeResponseSchema } }
      },
      ...errors(400, 404, 413, 503)
    }
  });

  return createRouter().openapi(encode, async (c) => {
    const started = performance.now();
    const { image } = c.req.valid('form');
    const bytes = await checkUploadSize(image, config.maxUploadBytes);
    const { embedder, model } = await collectionScope(runtime, c.req.valid('query').collection);
    const vector = await limiter.run(() => embedder.embedOne(bytes));
    return c.json(
      {
        vector: Array.from(vector),
        modelId: model.manifest.id,
        dimension: vector.length,
        tookMs: Math.round((performance.now() - started) * 100) / 100
      },
      200
    );
  });
}
