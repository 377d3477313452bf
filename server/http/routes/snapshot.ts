import { createRoute, z } from '@hono/zod-openapi';
import { SNAPSHOT_CONTENT_TYPE } from '#core/snapshot';
import type { Runtime } from '../../runtime';
import { collectionScope, CollectionQuerySchema } from '../collection-scope';
import { createRouter } from '../context';
import { matchesAny } from '../file-response';
import { BinarySchema, errors } from '../schemas';

const VersionSchema = z
  .object({
    version: z.string().openapi({ example: '1-resnet50-1f0c…-42' }),
    count: z.int().openapi({ description: 'Pictures in the collection now' }),
    modelId: z.string()
  })
  .openapi('SnapshotVersion');

const snapshotRoute = createRoute({
  method: 'get',
  path: '/index/snapshot',
  tags: ['offline'],
  summary: 'The whole collection, compact, for searching offline',
  description:
    'Binary (format in core/snapshot.ts, magic `LKSNAP1\\0`): ids, paths, sizes and ' +
    'int8-quantised vectors. Thumbnails are `/api/images/{id}/thumb` (with the same `collection`). ' +
    'The ETag is the version; ' +
    'send it back in If-None-Match to get 304 while nothing changed. One snapshot per collection.',
  request: { query: CollectionQuerySchema },
  responses: {
    200: {
      description: 'Snapshot',
      content: { [SNAPSHOT_CONTENT_TYPE]: { schema: BinarySchema } }
    },
    304: { description: 'Not modified: the version in If-None-Match is still current' },
    ...errors(400, 404, 503)
  }
});

const versionRoute = createRoute({
  method: 'get',
  path: '/index/snapshot/version',
  tags: ['offline'],
  summary: 'The current snapshot version (cheap; poll it to know when to fetch again)',
  request: { query: CollectionQuerySchema },
  responses: {
    200: {
      description: 'Version',
      content: { 'application/json': { schema: VersionSchema } }
    },
    ...errors(400, 404, 503)
  }
});

/**
 * Mounted before the index job routes: `/index/{jobId}` would otherwise take "snapshot" for a
 * job id.
 */
export function snapshotRoutes(runtime: Runtime) {
  const snapshotsOf = async (query: { collection?: string }) =>
    (await collectionScope(runtime, query.collection)).snapshots;
  return createRouter()
    .openapi(versionRoute, async (c) => {
      const snapshots = await snapshotsOf(c.req.valid('query'));
      c.header('Cache-Control', 'no-cache');
      return c.json(await snapshots.version(), 200);
    })
    .openapi(snapshotRoute, async (c) => {
      const snapshots = await snapshotsOf(c.req.valid('query'));
      // Revalidate every time; the check is cheap and answers 304 before anything is built.
      c.header('Cache-Control', 'no-cache');
      const { version } = await snapshots.version();
      if (matchesAny(c.req.header('if-none-match'), `"${version}"`)) {
        c.header('ETag', `"${version}"`);
        return c.body(null, 304);
      }
      const built = await snapshots.current();
      c.header('ETag', `"${built.version}"`);
      c.header('Content-Type', SNAPSHOT_CONTENT_TYPE);
      c.header('X-Content-Type-Options', 'nosniff');
      return c.body(built.bytes, 200);
    });
}
