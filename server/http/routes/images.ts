import { createRoute, z } from '@hono/zod-openapi';
import { NotFoundError } from '../../errors';
import type { Runtime } from '../../runtime';
import type { Thumbnails } from '../../services/thumbnails';
import { createRouter } from '../context';
import { sendFile } from '../file-response';
import { fileOfImage, readableRoots } from '../image-files';
import { adminAuth } from '../middleware/auth';
import { BinarySchema, errors, ImageIdParamSchema } from '../schemas';

/** Thumbnails are named by content, which never changes for an id: cache them for good. */
export const THUMB_CACHE_CONTROL = 'private, max-age=31536000, immutable';

/** Where the routes below serve picture `id` (under `/api`): search results link to both. */
export const imageUrls = (id: number) => ({
  imageUrl: `/api/images/${id}`,
  thumbUrl: `/api/images/${id}/thumb`
});

export function imageRoutes(runtime: Runtime, thumbnails: Thumbnails) {
  const { collection, config } = runtime;
  const readable = readableRoots(runtime);
  const count = createRoute({
    method: 'get',
    path: '/images/count',
    tags: ['images'],
    summary: 'How many distinct pictures the collection holds',
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
    responses: {
      200: {
        description: 'Cleared',
        content: { 'application/json': { schema: z.object({ cleared: z.literal(true) }) } }
      },
      ...errors(401)
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
      'If-None-Match; one byte range (206, or 416 when it cannot be satisfied).',
    request: { params: ImageIdParamSchema },
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
    request: { params: ImageIdParamSchema },
    responses: {
      200: { description: 'Thumbnail', content: { 'image/webp': { schema: BinarySchema } } },
      304: { description: 'Not modified' },
      ...errors(400, 404, 507)
    }
  });

  const imageOr404 = async (id: number) => {
    const image = await collection.getImage(id);
    if (!image) throw new NotFoundError(`No image ${id}`);
    return image;
  };

  return createRouter()
    .openapi(count, async (c) => c.json({ count: await collection.count() }, 200))
    .openapi(clear, async (c) => {
      await collection.clear();
      c.get('log').warn('collection cleared');
      return c.json({ cleared: true as const }, 200);
    })
    .openapi(original, async (c) => {
      const { id } = c.req.valid('param');
      const file = await fileOfImage(collection, await readable, await imageOr404(id));
      if (!file) throw new NotFoundError(`The files of image ${id} are gone; index again`);
      return sendFile(c, file);
    })
    .openapi(thumb, async (c) => {
      const { id } = c.req.valid('param');
      const image = await imageOr404(id);
      return sendFile(c, {
        path: await thumbnails.get(image, await readable),
        contentType: 'image/webp',
        etag: `"${image.contentHash}-t${thumbnails.size}"`,
        cacheControl: THUMB_CACHE_CONTROL
      });
    });
}
