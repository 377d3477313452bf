import { createRoute, z } from '@hono/zod-openapi';
import type { Runtime } from '../../runtime';
import { CollectionNotFoundError } from '../../stores/catalog';
import { collectionNameSchema, DEFAULT_COLLECTION } from '../../stores/collection-names';
import { createRouter } from '../context';
import { adminAuth } from '../middleware/auth';
import { errors } from '../schemas';

export const CollectionInfoSchema = z
  .object({
    name: z.string().openapi({ example: 'wallpapers' }),
    model: z
      .object({ id: z.string().openapi({ example: 'efficientnet-lite0' }), dimension: z.int() })
      .nullable()
      .openapi({
        description:
          'The model that builds it (each collection has its own); null only for a default ' +
          'collection never used yet'
      }),
    images: z.int().openapi({ description: 'Distinct pictures' }),
    default: z.boolean().openapi({
      description: `True for \`${DEFAULT_COLLECTION}\`, which always exists (deleting it empties it)`
    })
  })
  .openapi('Collection');

const CollectionListSchema = z
  .object({ collections: z.array(CollectionInfoSchema) })
  .openapi('CollectionList');

const NameParam = z.object({
  name: collectionNameSchema.meta({
    param: { name: 'name', in: 'path' },
    description: 'Collection name (case-sensitive)',
    example: 'wallpapers'
  })
});

const admin = [{ bearerAuth: [] }];

/** /api/collections: list, create and delete named collections. */
export function collectionRoutes(runtime: Runtime) {
  const { collections } = runtime;
  const auth = adminAuth(runtime.config.adminToken);

  const list = createRoute({
    method: 'get',
    path: '/collections',
    tags: ['collections'],
    summary: 'Every collection, by name (the default one included)',
    responses: {
      200: {
        description: 'Collections',
        content: { 'application/json': { schema: CollectionListSchema } }
      }
    }
  });

  const create = createRoute({
    method: 'post',
    path: '/collections',
    tags: ['collections'],
    summary: 'Create a collection (with its own model)',
    description:
      "Without `model`, it gets the server's model. Creating one that exists answers 200 when " +
      'the model matches (or none was asked for) and 409 `collection_model_mismatch` otherwise. ' +
      'Indexing into a name that does not exist (POST /api/index?collection=…) creates it too.',
    security: admin,
    middleware: [auth] as const,
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.object({
              name: collectionNameSchema,
              model: z.string().min(1).max(100).optional().openapi({
                description: 'A model id from models/ the server can load',
                example: 'efficientnet-lite0'
              })
            })
          }
        }
      }
    },
    responses: {
      201: {
        description: 'Created',
        content: { 'application/json': { schema: CollectionInfoSchema } }
      },
      200: {
        description: 'It existed already, with that model',
        content: { 'application/json': { schema: CollectionInfoSchema } }
      },
      ...errors(400, 401, 409, 413)
    }
  });

  const remove = createRoute({
    method: 'delete',
    path: '/collections/{name}',
    tags: ['collections'],
    summary: 'Delete a collection: its pictures, vectors and jobs (files on disk stay)',
    description: `Running index jobs of it are cancelled. \`${DEFAULT_COLLECTION}\` is emptied instead.`,
    security: admin,
    middleware: [auth] as const,
    request: { params: NameParam },
    responses: {
      200: {
        description: 'Deleted',
        content: { 'application/json': { schema: z.object({ deleted: z.literal(true) }) } }
      },
      ...errors(400, 401, 404)
    }
  });

  const described = async (name: string) => {
    const info = await collections.describe(name);
    if (!info) throw new CollectionNotFoundError(name);
    return info;
  };

  return createRouter()
    .openapi(list, async (c) => c.json({ collections: await collections.describeAll() }, 200))
    .openapi(create, async (c) => {
      const { name, model } = c.req.valid('json');
      const { created } = await collections.create(name, { model });
      if (created) c.get('log').info({ collection: name, model }, 'collection created');
      return created ? c.json(await described(name), 201) : c.json(await described(name), 200);
    })
    .openapi(remove, async (c) => {
      const { name } = c.req.valid('param');
      if (!(await collections.delete(name))) throw new CollectionNotFoundError(name);
      c.get('log').warn({ collection: name }, 'collection deleted');
      return c.json({ deleted: true as const }, 200);
    });
}
