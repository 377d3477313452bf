import { createRoute, z } from '@hono/zod-openapi';
import type { Runtime } from '../../runtime';
import type { LibraryFolderInfo } from '../../services/library';
import { collectionScope, CollectionQuerySchema } from '../collection-scope';
import { createRouter } from '../context';
import { adminAuth } from '../middleware/auth';
import { errors, JobProgressSchema, jobProgressJson } from '../schemas';

const FolderPath = z.string().min(1).max(4096).openapi({
  description: 'The folder as the Library lists it (its real path)',
  example: '/home/me/Pictures/2024'
});

const WatchStateSchema = z
  .discriminatedUnion('mode', [
    z.object({ mode: z.literal('events') }),
    z.object({
      mode: z.literal('polling'),
      everyMs: z.int(),
      reason: z.string().optional().openapi({ description: 'Why events are not used' })
    }),
    z.object({ mode: z.literal('refused'), reason: z.string() }),
    z.object({ mode: z.literal('missing'), reason: z.string() })
  ])
  .openapi('LibraryWatchState', {
    description:
      'How this server watches the folder: file-system `events`, `polling` (LOOKALIKE_WATCH_POLL_MS, ' +
      'or events failed), `refused` (outside the image roots, too many watched folders), or ' +
      '`missing` (gone from disk: its pictures are kept; watched again, with a catch-up run, ' +
      'when it is back)'
  });

export const LibraryFolderSchema = z
  .object({
    path: z.string(),
    recursive: z.boolean(),
    watched: z.boolean().openapi({
      description: 'New, changed and deleted files are indexed automatically'
    }),
    addedAt: z.number().openapi({ description: 'ms since the epoch' }),
    pictures: z.int().openapi({ description: 'Files of the collection in it (paths)' }),
    watch: WatchStateSchema.optional().openapi({
      description: 'Absent when not watched here (not watched, or a CLI process)'
    }),
    lastRun: JobProgressSchema.optional().openapi({
      description: "The folder's newest index job among the collection's recent ones"
    })
  })
  .openapi('LibraryFolder');

const PathBody = z.object({ path: FolderPath });
const WatchBody = PathBody.extend({ watched: z.boolean() });
const body = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } }
});

const admin = [{ bearerAuth: [] }];

const folderJson = ({ lastRun, ...folder }: LibraryFolderInfo) => ({
  ...folder,
  ...(lastRun ? { lastRun: jobProgressJson(lastRun) } : {})
});

/** /api/library: a collection's folders, their re-index and removal, and watched folders. */
export function libraryRoutes(runtime: Runtime) {
  const auth = adminAuth(runtime.config.adminToken);
  const { library } = runtime;

  const list = createRoute({
    method: 'get',
    path: '/library/folders',
    tags: ['library'],
    summary: "The collection's folders: pictures, last run, watched",
    description: 'Every folder an index job was started for, by path.',
    request: { query: CollectionQuerySchema },
    responses: {
      200: {
        description: 'Folders',
        content: {
          'application/json': {
            schema: z.object({ folders: z.array(LibraryFolderSchema) }).openapi('LibraryFolders')
          }
        }
      },
      ...errors(400, 404)
    }
  });

  const reindex = createRoute({
    method: 'post',
    path: '/library/folders/reindex',
    tags: ['library'],
    summary: 'Index a Library folder again',
    description: 'Starts its index job as POST /api/index does (a job still running answers).',
    security: admin,
    middleware: [auth] as const,
    request: { query: CollectionQuerySchema, body: body(PathBody) },
    responses: {
      202: {
        description: 'Job queued',
        content: { 'application/json': { schema: z.object({ jobId: z.string() }) } }
      },
      ...errors(400, 401, 403, 404, 413)
    }
  });

  const watch = createRoute({
    method: 'put',
    path: '/library/folders/watch',
    tags: ['library'],
    summary: 'Watch a Library folder, or stop',
    description:
      'A watched folder is indexed again about a second after files in it are added, changed or ' +
      'deleted, and once when the server starts. It must be a folder inside the image roots.',
    security: admin,
    middleware: [auth] as const,
    request: { query: CollectionQuerySchema, body: body(WatchBody) },
    responses: {
      200: {
        description: 'The folder',
        content: { 'application/json': { schema: LibraryFolderSchema } }
      },
      ...errors(400, 401, 403, 404, 413)
    }
  });

  const remove = createRoute({
    method: 'delete',
    path: '/library/folders',
    tags: ['library'],
    summary: 'Remove a folder from the collection (files on disk stay)',
    description:
      'Cancels its jobs, stops watching it, and forgets its files (those another Library folder ' +
      'covers stay); pictures left without a file leave the collection.',
    security: admin,
    middleware: [auth] as const,
    request: { query: CollectionQuerySchema.extend({ path: FolderPath }) },
    responses: {
      200: {
        description: 'Removed',
        content: {
          'application/json': {
            schema: z.object({
              files: z.int().openapi({ description: 'Files forgotten' }),
              pictures: z.int().openapi({ description: 'Pictures that left the collection' })
            })
          }
        }
      },
      ...errors(400, 401, 404)
    }
  });

  return createRouter()
    .openapi(list, async (c) => {
      const open = await collectionScope(runtime, c.req.valid('query').collection);
      return c.json({ folders: (await library.folders(open)).map(folderJson) }, 200);
    })
    .openapi(reindex, async (c) => {
      const open = await collectionScope(runtime, c.req.valid('query').collection);
      const job = await library.reindex(open, c.req.valid('json').path);
      c.get('log').info({ jobId: job.jobId, path: job.path, collection: open.name }, 're-index');
      return c.json({ jobId: job.jobId }, 202);
    })
    .openapi(watch, async (c) => {
      const open = await collectionScope(runtime, c.req.valid('query').collection);
      const { path, watched } = c.req.valid('json');
      const folder = await library.setWatched(open, path, watched);
      c.get('log').info({ path, watched, collection: open.name }, 'folder watch changed');
      return c.json(folderJson(folder), 200);
    })
    .openapi(remove, async (c) => {
      const { collection, path } = c.req.valid('query');
      const open = await collectionScope(runtime, collection);
      return c.json(await library.remove(open, path), 200);
    });
}
