import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createRoute, z } from '@hono/zod-openapi';
import { DISK_FULL, NotFoundError, StorageFullError, ValidationError } from '../../errors';
import type { Runtime } from '../../runtime';
import type { EncodeLimiter } from '../../services/encode-limiter';
import { countEntries } from '../../services/folder-walker';
import type { IndexJobs } from '../../services/index-jobs';
import type { Uploads } from '../../services/uploads';
import { UrlDownloader, urlDownloadOptions } from '../../services/url-download';
import type { JobRecord } from '../../stores/catalog';
import { DEFAULT_COLLECTION, isCollectionName } from '../../stores/collection-names';
import { collectionScope } from '../collection-scope';
import { createRouter } from '../context';
import { HttpError } from '../errors';
import { sendFile } from '../file-response';
import { fileOfPath, readableRoots } from '../image-files';
import { adminAuth } from '../middleware/auth';
import { BinarySchema, errors, ImageFileSchema, TopKSchema } from '../schemas';
import { checkUploadSize } from '../upload-limits';

/**
 * The original Milvus bootcamp server's endpoints, answering as it did (milvus-io/bootcamp,
 * solutions/image/reverse_image_search/server/src/main.py and operations/*.py), so its React
 * client and test scripts work unchanged.
 */

const TAG = 'bootcamp-compatible';

/** The original's DEFAULT_TABLE: naming it is naming no table, there as here. */
export const ORIGINAL_DEFAULT_TABLE = 'milvus_img_search';

const TABLE =
  "The collection (see /api/collections), as the original's Milvus collection and MySQL table of " +
  `that name; left out, empty or \`${ORIGINAL_DEFAULT_TABLE}\` (the original's default table): ` +
  `the \`${DEFAULT_COLLECTION}\` collection.`;
const TableQuery = z.object({
  table_name: z.string().max(64).optional().openapi({ description: TABLE, example: 'alpha' })
});

/** The collection a `table_name` / `Table` names, as the original defaulted its table. */
export function collectionOfTable(table: string | null | undefined): string {
  if (!table || table === ORIGINAL_DEFAULT_TABLE) return DEFAULT_COLLECTION;
  if (!isCollectionName(table)) {
    throw new ValidationError(
      `table_name: "${String(table).slice(0, 64)}" is not a collection name (1 to 64 letters, digits, ` +
        '"_" or "-", not starting with "-")'
    );
  }
  return table;
}

/**
 * What `/progress` answers for a load: `current` counts the files dealt with (indexed, unchanged,
 * skipped or failed), `total` the files of the folder, counted before the load began (`counted`;
 * the job's own count otherwise). `current` equals `total` only once the load has finished — the
 * original client polls until they are equal — and then always, whatever was skipped or failed or
 * changed in the folder meanwhile. A load that failed or was cancelled stops short, as it did.
 */
export function progressText(job: JobRecord | undefined, counted?: number): string {
  if (!job) return 'current: 0, total: 0';
  const dealt = job.indexed + job.unchanged + job.skipped + job.failed;
  if (job.state === 'done') {
    const total = job.total ?? job.seen;
    return `current: ${total}, total: ${total}`;
  }
  const total = Math.max(counted ?? job.total ?? job.seen, job.seen);
  const finished = job.state === 'failed' || job.state === 'cancelled';
  const current = finished || job.state === 'interrupted' ? dealt : Math.min(dealt, total - 1);
  return `current: ${Math.max(0, current)}, total: ${total}`;
}

/** L2 distance between unit vectors with cosine similarity `score` (the bootcamp's metric). */
export const l2FromCosine = (score: number) => Math.sqrt(Math.max(0, 2 - 2 * score));

/** The latest `/img/load`: its job and the folder's file count, known before the job starts. */
interface Load {
  jobs: IndexJobs;
  /** Settles once the folder is counted (undefined if it could not be). */
  counted: Promise<number | undefined>;
  /** Settles once the job is queued. */
  jobId: Promise<string | undefined>;
}

export function bootcampRoutes(runtime: Runtime, limiter: EncodeLimiter, uploads: Uploads) {
  const { jobs, config, roots } = runtime;
  const readable = readableRoots(runtime);
  const auth = adminAuth(config.adminToken);
  const admin = [{ bearerAuth: [] }];
  const downloader = new UrlDownloader(
    urlDownloadOptions({
      allowedNetworks: config.urlAllowedNetworks,
      timeoutMs: config.urlTimeoutMs,
      maxBytes: config.maxUploadBytes,
      maxConcurrent: config.encodeConcurrency
    })
  );
  let lastLoad: Load | undefined;

  /** The named collection, else the default one and then every other (opened as needed). */
  async function* collectionsToLookIn(table: string | undefined) {
    if (table) {
      const open = await runtime.collections.get(collectionOfTable(table));
      if (open) yield open.collection;
      return;
    }
    yield runtime.collection;
    for (const { name } of await runtime.collections.list()) {
      if (name === DEFAULT_COLLECTION) continue;
      const open = await runtime.collections.get(name);
      if (open) yield open.collection;
    }
  }

  const load = createRoute({
    method: 'post',
    path: '/img/load',
    tags: [TAG],
    summary: 'Index a folder and answer when done',
    description:
      'Like POST /api/index, but waits for the job; poll GET /progress meanwhile. As the original ' +
      'did, `File` may be relative (to the working directory the server was started in) and only ' +
      'the files directly in the folder are loaded, not those of its subfolders (`Recursive: ' +
      'true` loads those too). The folder must lie inside the allowed image folders ' +
      '(LOOKALIKE_IMAGE_ROOTS). A `Table` that does not exist yet is created with the ' +
      `server's model, as the original created its collection. \`Table\`: ${TABLE}`,
    security: admin,
    middleware: [auth] as const,
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.object({
              File: z.string().min(1).max(4096).openapi({ example: './example_img' }),
              Table: z.string().max(64).nullable().optional().openapi({ description: TABLE }),
              Recursive: z.boolean().default(false).openapi({
                description:
                  'Also load the subfolders (not in the original, which loaded one level)'
              })
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
    summary: 'Progress of the latest load',
    description:
      'Of the latest /img/load, whatever its table (the original kept one progress for all). ' +
      '`"current: X, total: Y"`: Y is the number of files in the folder, from the start of the ' +
      'load; X the files dealt with so far (indexed, unchanged, skipped or failed). X reaches Y ' +
      'exactly when the load has finished, even when files were skipped or failed.',
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
    summary: 'Add one picture to the collection, from a file or a URL',
    description:
      'Saved under <data dir>/uploads/<sha256>.<ext> and indexed; answers ' +
      '`"Successfully loaded data: <id>"`. Instead of the `image` file, `url` (a query parameter ' +
      'as in the original, or a form field) names a picture the server downloads: http(s) only, ' +
      'public addresses only (see LOOKALIKE_URL_ALLOWED_NETWORKS), redirects checked the same ' +
      'way, at most LOOKALIKE_MAX_UPLOAD_BYTES within LOOKALIKE_URL_TIMEOUT_MS, and refused ' +
      'unless it is an image (400 `url_not_allowed`, `download_failed`, `download_timeout` or ' +
      '`invalid_image`). A `table_name` that does not exist yet is created with the ' +
      `server's model, as the original did. \`table_name\`: ${TABLE}`,
    security: admin,
    middleware: [auth] as const,
    request: {
      query: TableQuery.extend({
        url: z.string().max(8192).optional().openapi({
          description: 'A picture to download instead of an uploaded file',
          example: 'https://example.com/cat.jpg'
        })
      }),
      body: {
        required: false,
        content: {
          'multipart/form-data': {
            schema: z.object({
              image: ImageFileSchema.optional(),
              url: z.string().max(8192).optional()
            })
          }
        }
      }
    },
    responses: {
      200: {
        description: 'Its id, in words',
        content: {
          'application/json': {
            schema: z.string().openapi({ example: 'Successfully loaded data: 21' })
          }
        }
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
      'A missing table is 404 `collection_not_found` (the original failed with a 500). ' +
      `\`table_name\`: ${TABLE}`,
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
      ...errors(400, 404, 413, 503)
    }
  });

  const count = createRoute({
    method: 'post',
    path: '/img/count',
    tags: [TAG],
    summary: 'How many pictures the collection holds',
    description: `\`null\` for a table that does not exist, as the original. \`table_name\`: ${TABLE}`,
    request: { query: TableQuery },
    responses: {
      200: {
        description: 'Count, or null',
        content: { 'application/json': { schema: z.int().nullable() } }
      },
      ...errors(400)
    }
  });

  const drop = createRoute({
    method: 'post',
    path: '/img/drop',
    tags: [TAG],
    summary: 'Delete the collection',
    description:
      'Deletes that collection only (its pictures, vectors and jobs); the default collection is ' +
      'emptied instead, as it always exists. A table that does not exist: `"Milvus doesn\'t ' +
      'have a collection named <table_name>"`, word for word as the original. ' +
      `\`table_name\`: ${TABLE}`,
    security: admin,
    middleware: [auth] as const,
    request: { query: TableQuery },
    responses: {
      200: {
        description: '"ok", or that there is no such table',
        content: { 'application/json': { schema: z.string().openapi({ example: 'ok' }) } }
      },
      ...errors(400, 401)
    }
  });

  const data = createRoute({
    method: 'get',
    path: '/data',
    tags: [TAG],
    summary: 'An indexed file, by its path',
    description:
      'Only paths a collection holds (as returned by /img/search) are served, and only while ' +
      'they lie inside the allowed image folders (or the uploads folder); anything else is 404. ' +
      'A relative path is taken from the working directory the server was started in, as the ' +
      'original did. Any collection may hold it (the original served any file); `table_name` ' +
      'looks in that one only.',
    request: {
      query: TableQuery.extend({ image_path: z.string().min(1).max(4096) })
    },
    responses: {
      200: { description: 'The file', content: { 'image/*': { schema: BinarySchema } } },
      206: { description: 'Part of the file', content: { 'image/*': { schema: BinarySchema } } },
      304: { description: 'Not modified' },
      ...errors(400, 404, 416)
    }
  });

  return createRouter()
    .openapi(load, async (c) => {
      const { File: path, Table: table, Recursive: recursive } = c.req.valid('json');
      const name = collectionOfTable(table);
      // A folder that is missing (or outside the roots) creates no table, as the original's
      // listdir failed before anything was inserted.
      const real = await roots.resolve(path);
      const { jobs } = await collectionScope(runtime, name, { create: true });
      // Counted before the job starts (as the original listed the folder first), so the first
      // /progress already has the real total; /progress waits for the count if asked meanwhile.
      const counted = countEntries(real, { recursive, roots }).catch(() => undefined);
      const started = jobs.start({ path: real, recursive });
      lastLoad = {
        jobs,
        counted,
        jobId: started.then((job) => job.jobId).catch(() => undefined)
      };
      const job = await jobs.waitFor((await started).jobId);
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
    .openapi(progress, async (c) => {
      const current = lastLoad;
      if (!current) return c.json(progressText(jobs.latest), 200);
      const [counted, jobId] = await Promise.all([current.counted, current.jobId]);
      // A load refused before it started (a missing folder) leaves the previous progress.
      const job = jobId ? await current.jobs.get(jobId) : current.jobs.latest;
      return c.json(progressText(job, jobId ? counted : undefined), 200);
    })
    .openapi(upload, async (c) => {
      const form = c.req.valid('form');
      const query = c.req.valid('query');
      const url = query.url ?? form.url;
      const name = collectionOfTable(query.table_name);
      let bytes: Uint8Array;
      if (form.image) bytes = await checkUploadSize(form.image, config.maxUploadBytes);
      else if (url) bytes = await downloader.download(url, c.req.raw.signal);
      else throw new ValidationError('Image and url are required: send an image file or a url');
      const scope = await collectionScope(runtime, name, { create: true });
      const into = name === DEFAULT_COLLECTION ? uploads : scope.uploads;
      const result = await into.add(bytes, (task) => limiter.run(task));
      c.get('log').info(
        { id: result.id, path: result.path, created: result.created, url, collection: name },
        'upload'
      );
      return c.json(`Successfully loaded data: ${result.id}`, 200);
    })
    .openapi(search, async (c) => {
      const { image, topk } = c.req.valid('form');
      const name = collectionOfTable(c.req.valid('query').table_name);
      const { collection, embedder } = await collectionScope(runtime, name);
      const bytes = await checkUploadSize(image, config.maxUploadBytes);
      const vector = await limiter.run(() => embedder.embedOne(bytes));
      const hits = await collection.search(vector, topk);
      const pairs = hits
        .map((hit): [string, number] => [hit.path, l2FromCosine(hit.score)])
        .sort((a, b) => a[1] - b[1]);
      return c.json(pairs, 200);
    })
    .openapi(count, async (c) => {
      const open = await runtime.collections.get(
        collectionOfTable(c.req.valid('query').table_name)
      );
      return c.json(open ? await open.collection.count() : null, 200);
    })
    .openapi(drop, async (c) => {
      const table = c.req.valid('query').table_name;
      const name = collectionOfTable(table);
      if (!(await runtime.collections.delete(name))) {
        // The original's words, with the table name it defaulted to.
        return c.json(
          `Milvus doesn't have a collection named ${table || ORIGINAL_DEFAULT_TABLE}`,
          200
        );
      }
      c.get('log').warn({ collection: name }, 'collection dropped');
      return c.json('ok', 200);
    })
    .openapi(data, async (c) => {
      const { image_path: path, table_name: table } = c.req.valid('query');
      const allowed = await readable;
      // Paths are catalogued as real paths; the original took relative ones from its working
      // directory, so `./example_img/test.jpg` finds what was loaded from `./example_img`.
      const real = path.includes('\0')
        ? undefined
        : await realpath(resolve(path)).catch(() => undefined);
      const candidates = real && real !== path ? [path, real] : [path];
      for await (const collection of collectionsToLookIn(table)) {
        for (const candidate of candidates) {
          const file = await fileOfPath(collection, allowed, candidate);
          if (file) return sendFile(c, file);
        }
      }
      throw new NotFoundError('No indexed file at that path');
    });
}
