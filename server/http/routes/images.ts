import { createRoute, z } from '@hono/zod-openapi';
import { NotFoundError } from '../../errors';
import type { Runtime } from '../../runtime';
import type { Collection } from '../../services/collection';
import type { Thumbnails } from '../../services/thumbnails';
import { collectionScope, CollectionQuerySchema } from '../collection-scope';
import { createRouter } from '../context';
import { sendFile } from '../file-response';
import { fileOfImage, readableRoots } from '../image-files';
import { adminAuth } from '../middleware/auth';
import { BinarySchema, errors, ImageIdParamSchema } from '../schemas';

/** Thumbnails are named by content, which never changes for an id: cache them for good. */
export const THUMB_CACHE_CONTROL = 'private, max-age=31536000, immutable';

/**
 * Where the routes below serve picture `id` (under `/api`): search results link to both.
 * `urlQuery` names a collection other than the default (CollectionScope.urlQuery).
 */
export const imageUrls = (id: number, urlQuery = '') => ({
  imageUrl: `/api/images/${id}${urlQuery}`,
  thumbUrl: `/api/images/${id}/thumb${urlQuery}`
});

export function imageRoutes(runtime: Runtime, thumbnails: Thumbnails) {
  const { config } = runtime;
  const readable = readableRoots(runtime);
  const count = createRoute({
    method: 'get',
    path: '/images/count',
    tags: ['images'],
    summary: 'How many distinct pictures the collection holds',
    request: { query: CollectionQuerySchema },
    responses: {
      200: {
        description: 'Count',
        content: { 'application/json': { schema: z.object({ count: z.int() }) } }
      }
    }
  });

  const clear = createRoute({
    method: 'delete',
    path: '/images',
    tags: ['images'],
    summary: 'Empty the collection (files on disk are not touched)',
    security: [{ bearerAuth: [] }],
    middleware: [adminAuth(config.adminToken)] as const,
    request: { query: CollectionQuerySchema },
    responses: {
      200: {
        description: 'Cleared',
        content: { 'application/json': { schema: z.object({ cleared: z.literal(true) }) } }
      },
      ...errors(401, 404)
    }
  });

  const original = createRoute({
    method: 'get',
    path: '/images/{id}',
    tags: ['images'],
    summary: "A picture's original file",
    description:
      'Looked up by id only, and read only while its file lies inside the allowed image folders ' +
      '(symlinks resolved at each read), else 404. Strong ETag (content hash) with 304 on ' +
      'If-None-Match; one byte range (206, or 416 when it cannot be satisfied). Ids are unique ' +
      'over all collections; `collection` names the one holding it.',
    request: { params: ImageIdParamSchema, query: CollectionQuerySchema },
    responses: {
      200: { description: 'The file', content: { 'image/*': { schema: BinarySchema } } },
      206: { description: 'Part of the file', content: { 'image/*': { schema: BinarySchema } } },
      304: { description: 'Not modified' },
      ...errors(400, 404, 416)
    }
  });

  const thumb = createRoute({
    method: 'get',
    path: '/images/{id}/thumb',
    tags: ['images'],
    summary: `A WebP thumbnail, at most ${thumbnails.size} px on the long side`,
    request: { params: ImageIdParamSchema, query: CollectionQuerySchema },
    responses: {
      200: { description: 'Thumbnail', content: { 'image/webp': { schema: BinarySchema } } },
      304: { description: 'Not modified' },
      ...errors(400, 404, 507)
    }
  });

  const imageOr404 = async (collection: Collection, id: number) => {
    const image = await collection.getImage(id);
    if (!image) throw new NotFoundError(`No image ${id}`);
    return image;
  };
  const scope = (query: { collection?: string }) => collectionScope(runtime, query.collection);

  return createRouter()
    .openapi(count, async (c) => {
      const { collection } = await scope(c.req.valid('query'));
      return c.json({ count: await collection.count() }, 200);
    })
    .openapi(clear, async (c) => {
      const { collection, name } = await scope(c.req.valid('query'));
      await collection.clear();
      c.get('log').warn({ collection: name }, 'collection cleared');
      return c.json({ cleared: true as const }, 200);
    })
    .openapi(original, async (c) => {
      const { id } = c.req.valid('param');
      const { collection } = await scope(c.req.valid('query'));
      const image = await imageOr404(collection, id);
      const file = await fileOfImage(collection, await readable, image);
      if (!file) throw new NotFoundError(`The files of image ${id} are gone; index again`);
      return sendFile(c, file);
    })
    .openapi(thumb, async (c) => {
      const { id } = c.req.valid('param');
      const { collection } = await scope(c.req.valid('query'));
      const image = await imageOr404(collection, id);
      return sendFile(c, {
        path: await thumbnails.get(image, await readable),
        contentType: 'image/webp',
        etag: `"${image.contentHash}-t${thumbnails.size}"`,
        cacheControl: THUMB_CACHE_CONTROL
      });
    });
}
