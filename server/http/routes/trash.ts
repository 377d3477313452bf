import { createRoute, z } from '@hono/zod-openapi';
import type { Runtime } from '../../runtime';
import type { EncodeLimiter } from '../../services/encode-limiter';
import { Ingest } from '../../services/ingest';
import {
  MAX_TRASH_BATCH,
  otherCollectionsOf,
  Trash,
  TRASH_FOLDER,
  type TrashScope
} from '../../services/trash';
import { collectionScope, CollectionQuerySchema } from '../collection-scope';
import { createRouter } from '../context';
import { readableRoots } from '../image-files';
import { adminAuth } from '../middleware/auth';
import { errors, ErrorSchema } from '../schemas';
import { imageUrls } from './images';

const TrashEntrySchema = z
  .object({
    id: z.string().openapi({ example: '3f9c2a1b7d4e5f60' }),
    collection: z.string(),
    originalPath: z.string().openapi({ description: 'Where the file was, and is restored to' }),
    trashPath: z.string().openapi({
      description: `Where it is now: \`<image root>/${TRASH_FOLDER}/files/<path in the root>\``
    }),
    trashedAt: z.string().openapi({ format: 'date-time' }),
    bytes: z.int(),
    imageId: z.int().openapi({ description: 'The picture it belonged to when trashed' })
  })
  .openapi('TrashEntry');

const TrashListSchema = z
  .object({
    entries: z.array(TrashEntrySchema).openapi({ description: 'Newest first' }),
    unreadable: z.array(z.string()).openapi({
      description:
        'Trash records (`<image root>/' +
        TRASH_FOLDER +
        '/entries.json`) that cannot be read: their files are not listed (and untouched) until ' +
        'the record is repaired or moved away'
    })
  })
  .openapi('TrashList');

const TrashRequestSchema = z
  .object({
    paths: z
      .array(z.string().min(1).max(4096))
      .min(1)
      .max(MAX_TRASH_BATCH)
      .openapi({ description: 'Files of the collection, as its answers name them' })
  })
  .openapi('TrashRequest');

const TrashedSchema = z.object({ trashed: z.array(TrashEntrySchema) }).openapi('Trashed');

const RestoredSchema = z
  .object({
    path: z.string(),
    id: z.int().openapi({ description: 'The picture the file belongs to again' }),
    imageUrl: z.string(),
    thumbUrl: z.string()
  })
  .openapi('Restored');

const EntryParamSchema = z.object({
  id: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .openapi({ param: { name: 'id', in: 'path' }, example: '3f9c2a1b7d4e5f60' })
});

const admin = [{ bearerAuth: [] }];

const recordUnreadable = {
  description:
    'The trash record of a root the request needs cannot be read (`trash_record_unreadable`): ' +
    'nothing moved; repair or move the named entries.json away',
  content: { 'application/json': { schema: ErrorSchema } }
};

/**
 * Move to trash and restore (Duplicates' one way to act on a group): thin over `Trash`. Writes
 * need the admin token when one is set, and the cross-site middleware refuses foreign pages.
 */
export function trashRoutes(runtime: Runtime, limiter: EncodeLimiter) {
  const auth = adminAuth(runtime.config.adminToken);
  const trash = new Trash({
    roots: () => readableRoots(runtime),
    otherCollections: otherCollectionsOf(runtime.collections)
  });
  const scopeOf = async (name?: string): Promise<TrashScope & { urlQuery: string }> => {
    const scope = await collectionScope(runtime, name);
    return {
      name: scope.name,
      collection: scope.collection,
      urlQuery: scope.urlQuery,
      ingest: new Ingest({
        collection: scope.collection,
        decoder: runtime.decoder,
        embedder: scope.embedder
      }),
      encode: (task) => limiter.run(task)
    };
  };

  const list = createRoute({
    method: 'get',
    path: '/trash',
    tags: ['images'],
    summary: "The collection's trashed files",
    request: { query: CollectionQuerySchema },
    responses: {
      200: {
        description: 'Trashed files',
        content: { 'application/json': { schema: TrashListSchema } }
      },
      ...errors(404)
    }
  });

  const move = createRoute({
    method: 'post',
    path: '/trash',
    tags: ['images'],
    summary: 'Move files of the collection to the trash (reversible)',
    description:
      `Each file is renamed into \`${TRASH_FOLDER}/files/\` at the top of the image root that ` +
      'holds it (same file system: nothing is copied or deleted), recorded there, and its path ' +
      'removed from the collection (a picture with other files stays). Every path must be, now, ' +
      'a regular file of the collection whose real folder lies inside the image roots; one that ' +
      'is not refuses the whole request (404, the same answer for missing and outside) and ' +
      'nothing moves; so does one on another file system than its trash (400). A failure ' +
      'after the checks puts back every file already moved. A file another collection indexes too is refused the same way (409 ' +
      '`path_in_other_collection`, naming the collections): moving it would break theirs.',
    security: admin,
    middleware: [auth] as const,
    request: {
      query: CollectionQuerySchema,
      body: { content: { 'application/json': { schema: TrashRequestSchema } }, required: true }
    },
    responses: {
      200: {
        description: 'Moved',
        content: { 'application/json': { schema: TrashedSchema } }
      },
      ...errors(400, 401, 404),
      503: recordUnreadable,
      409: {
        description: 'A file is indexed by another collection too (`path_in_other_collection`)',
        content: { 'application/json': { schema: ErrorSchema } }
      }
    }
  });

  const restore = createRoute({
    method: 'post',
    path: '/trash/{id}/restore',
    tags: ['images'],
    summary: 'Move a trashed file back and add it to the collection again',
    description:
      'Renamed back to where it was, never over another file: 409 `path_taken` when something ' +
      'took its place (the trashed file stays). Then added like an indexed file (linked when the ' +
      'collection still has the picture, else embedded again); a file that is no longer a ' +
      'picture goes back into the trash (422 `not_a_picture`), as it does on any later failure.',
    security: admin,
    middleware: [auth] as const,
    request: { params: EntryParamSchema, query: CollectionQuerySchema },
    responses: {
      200: {
        description: 'Restored',
        content: { 'application/json': { schema: RestoredSchema } }
      },
      ...errors(401, 404, 409),
      503: {
        ...recordUnreadable,
        description: `${recordUnreadable.description}; or too many images being encoded (\`busy\`)`
      },
      422: {
        description: 'The trashed file is no longer a picture (`not_a_picture`); it stays trashed',
        content: { 'application/json': { schema: ErrorSchema } }
      }
    }
  });

  return createRouter()
    .openapi(list, async (c) => {
      const { name } = await scopeOf(c.req.valid('query').collection);
      return c.json(await trash.list(name), 200);
    })
    .openapi(move, async (c) => {
      const scope = await scopeOf(c.req.valid('query').collection);
      const trashed = await trash.trash(scope, c.req.valid('json').paths);
      c.get('log').info(
        { collection: scope.name, paths: trashed.map((e) => e.originalPath) },
        'moved to trash'
      );
      return c.json({ trashed }, 200);
    })
    .openapi(restore, async (c) => {
      const scope = await scopeOf(c.req.valid('query').collection);
      const { path, imageId } = await trash.restore(scope, c.req.valid('param').id);
      c.get('log').info({ collection: scope.name, path }, 'restored from trash');
      return c.json({ path, id: imageId, ...imageUrls(imageId, scope.urlQuery) }, 200);
    });
}
