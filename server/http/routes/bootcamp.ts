import { createRoute, z } from '@hono/zod-openapi';
import { DISK_FULL, NotFoundError, StorageFullError } from '../../errors';
import type { Runtime } from '../../runtime';
import type { EncodeLimiter } from '../../services/encode-limiter';
import type { Uploads } from '../../services/uploads';
import type { JobRecord } from '../../stores/catalog';
import { createRouter } from '../context';
import { HttpError } from '../errors';
import { sendFile } from '../file-response';
import { fileOfPath, readableRoots } from '../image-files';
import { adminAuth } from '../middleware/auth';
import { BinarySchema, errors, ImageFileSchema, TopKSchema } from '../schemas';
import { checkUploadSize } from '../upload-limits';

/**
 * The original Milvus bootcamp server's endpoints, answering exactly as it did, so its React
 * client and test scripts work unchanged. `Table` / `table_name` are accepted and ignored: a data
 * directory holds one collection.
 */

const TAG = 'bootcamp-compatible';
const IGNORED_TABLE =
  'Accepted for compatibility and ignored: one collection per data directory (LOOKALIKE_DATA_DIR).';
const TableQuery = z.object({
  table_name: z.string().optional().openapi({ description: IGNORED_TABLE })
});

/** `current` counts every file dealt with; `total` every file seen (so far, while running). */
export function progressText(job: JobRecord | undefined): string {
  if (!job) return 'current: 0, total: 0';
  const current = job.indexed + job.unchanged + job.skipped + job.failed;
  return `current: ${current}, total: ${job.seen}`;
}

/** L2 distance between unit vectors with cosine similarity `score` (the bootcamp's metric). */
export const l2FromCosine = (score: number) => Math.sqrt(Math.max(0, 2 - 2 * score));

export function bootcampRoutes(runtime: Runtime, limiter: EncodeLimiter, uploads: Uploads) {
  const { jobs, collection, embedder, config } = runtime;
  const readable = readableRoots(runtime);
  const auth = adminAuth(config.adminToken);
  const admin = [{ bearerAuth: [] }];

  const load = createRoute({
    method: 'post',
    path: '/img/load',
    tags: [TAG],
    summary: 'Index a folder and answer when done',
    description:
      'Like POST /api/index, but waits for the job. Poll GET /progress meanwhile. ' +
      `\`Table\`: ${IGNORED_TABLE}`,
    security: admin,
    middleware: [auth] as const,
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.object({
              File: z.string().min(1).max(4096).openapi({ example: './example_img' }),
              Table: z.string().nullable().optional().openapi({ description: IGNORED_TABLE })
            })
          }
        }
      }
    },
    responses: {
      200: {
        description: 'Loaded',
        content: {
          'application/json': {
            schema: z.string().openapi({ example: 'Successfully loaded data!' })
          }
        }
      },
      ...errors(400, 401, 403, 404, 409, 500, 507)
    }
  });

  const progress = createRoute({
    method: 'get',
    path: '/progress',
    tags: [TAG],
    summary: 'Progress of the latest index job',
    responses: {
      200: {
        description: '`"current: X, total: Y"`',
        content: {
          'application/json': { schema: z.string().openapi({ example: 'current: 20, total: 20' }) }
        }
      }
    }
  });

  const upload = createRoute({
    method: 'post',
    path: '/img/upload',
    tags: [TAG],
    summary: 'Add one picture to the collection',
    description:
      'Saved under <data dir>/uploads/<sha256>.<ext> and indexed; answers its id. ' +
      `\`table_name\`: ${IGNORED_TABLE}`,
    security: admin,
    middleware: [auth] as const,
    request: {
      query: TableQuery,
      body: {
        required: true,
        content: { 'multipart/form-data': { schema: z.object({ image: ImageFileSchema }) } }
      }
    },
    responses: {
      200: {
        description: 'The id',
        content: { 'application/json': { schema: z.int().openapi({ example: 21 }) } }
      },
      ...errors(400, 401, 413, 503, 507)
    }
  });

  const search = createRoute({
    method: 'post',
    path: '/img/search',
    tags: [TAG],
    summary: 'Most similar pictures to an uploaded picture, as [path, distance] pairs',
    description:
      'Sorted by ascending L2 distance between unit vectors (0 = identical, 2 = opposite). ' +
      `\`table_name\`: ${IGNORED_TABLE}`,
    request: {
      query: TableQuery,
      body: {
        required: true,
        content: {
          'multipart/form-data': { schema: z.object({ image: ImageFileSchema, topk: TopKSchema }) }
        }
      }
    },
    responses: {
      200: {
        description: 'Matches',
        content: {
          'application/json': { schema: z.array(z.tuple([z.string(), z.number()])) }
        }
      },
      ...errors(400, 413, 503)
    }
  });

  const count = createRoute({
    method: 'post',
    path: '/img/count',
    tags: [TAG],
    summary: 'How many pictures the collection holds',
    description: `\`table_name\`: ${IGNORED_TABLE}`,
    request: { query: TableQuery },
    responses: {
      200: { description: 'Count', content: { 'application/json': { schema: z.int() } } }
    }
  });

  const drop = createRoute({
    method: 'post',
    path: '/img/drop',
    tags: [TAG],
    summary: 'Empty the collection',
    description: `\`table_name\`: ${IGNORED_TABLE}`,
    security: admin,
    middleware: [auth] as const,
    request: { query: TableQuery },
    responses: {
      200: {
        description: '"ok"',
        content: { 'application/json': { schema: z.string().openapi({ example: 'ok' }) } }
      },
      ...errors(401)
    }
  });

  const data = createRoute({
    method: 'get',
    path: '/data',
    tags: [TAG],
    summary: 'An indexed file, by its exact path',
    description:
      'Only paths the collection holds (as returned by /img/search) are served, and only while ' +
      'they lie inside the allowed image folders (or the uploads folder); anything else is 404.',
    request: { query: z.object({ image_path: z.string().min(1).max(4096) }) },
    responses: {
      200: { description: 'The file', content: { 'image/*': { schema: BinarySchema } } },
      206: { description: 'Part of the file', content: { 'image/*': { schema: BinarySchema } } },
      304: { description: 'Not modified' },
      ...errors(400, 404, 416)
    }
  });

  return createRouter()
    .openapi(load, async (c) => {
      const { File: path } = c.req.valid('json');
      const started = await jobs.start({ path, recursive: true });
      const job = await jobs.waitFor(started.jobId);
      if (job.state === 'failed') {
        const message = `Loading failed: ${job.message ?? 'unknown error'}`;
        // A full disk is the operator's to fix, as everywhere else: 507, not 500.
        if (job.message?.startsWith(DISK_FULL)) throw new StorageFullError(message);
        throw new HttpError(500, 'index_failed', message);
      }
      if (job.state !== 'done') {
        throw new HttpError(409, 'index_cancelled', `Loading stopped: the job was ${job.state}`);
      }
      return c.json('Successfully loaded data!', 200);
    })
    .openapi(progress, (c) => c.json(progressText(jobs.latest), 200))
    .openapi(upload, async (c) => {
      const { image } = c.req.valid('form');
      const bytes = await checkUploadSize(image, config.maxUploadBytes);
      const result = await uploads.add(bytes, (task) => limiter.run(task));
      c.get('log').info({ id: result.id, path: result.path, created: result.created }, 'upload');
      return c.json(result.id, 200);
    })
    .openapi(search, async (c) => {
      const { image, topk } = c.req.valid('form');
      const bytes = await checkUploadSize(image, config.maxUploadBytes);
      const vector = await limiter.run(() => embedder.embedOne(bytes));
      const hits = await collection.search(vector, topk);
      const pairs = hits
        .map((hit): [string, number] => [hit.path, l2FromCosine(hit.score)])
        .sort((a, b) => a[1] - b[1]);
      return c.json(pairs, 200);
    })
    .openapi(count, async (c) => c.json(await collection.count(), 200))
    .openapi(drop, async (c) => {
      await collection.clear();
      c.get('log').warn('collection dropped');
      return c.json('ok', 200);
    })
    .openapi(data, async (c) => {
      const { image_path: path } = c.req.valid('query');
      const file = await fileOfPath(collection, await readable, path);
      if (!file) throw new NotFoundError('No indexed file at that path');
      return sendFile(c, file);
    });
}
