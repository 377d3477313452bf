import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { JOB_COUNTERS, type JobCounterKey } from '#core/job-counters';
import { jobErrorSchema, jobRecordSchema, type JobRecord } from '../stores/job-store';

/**
 * Shared request and response schemas; they are also the OpenAPI document's components. They are
 * the one statement of the HTTP contract: the server's types are inferred from them (the exports
 * below), the routes' response types check the handlers against them, and the page's types and
 * client (src/lib/api/openapi.d.ts) are generated from the document they make
 * (`npx tsx scripts/api-types.ts`; tests/http/contract.test.ts fails while that file is stale).
 */

/** Every error the API answers, whatever the status. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_request' }),
      message: z.string().openapi({ example: 'topK: Too big: expected number to be <=100' })
    })
  })
  .openapi('Error');
export type ErrorBody = z.infer<typeof ErrorSchema>;

/** Error responses for a route's OpenAPI entry, all in the common shape. */
export function errors(...statuses: (keyof typeof ERROR_DESCRIPTIONS)[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: ERROR_DESCRIPTIONS[status],
        content: { 'application/json': { schema: ErrorSchema } }
      }
    ])
  );
}

const ERROR_DESCRIPTIONS = {
  400: 'Invalid request (`invalid_request`) or not a usable image (`invalid_image`)',
  401: 'Missing or wrong bearer token (`unauthorized`); only when LOOKALIKE_ADMIN_TOKEN is set',
  403: 'No image folders allowed yet, or a NUL byte in the path (`path_not_allowed`)',
  404: 'Not found (`not_found`)',
  409: 'Conflict',
  413: 'Request body over the limit (`payload_too_large`)',
  416: 'Range not satisfiable (`range_not_satisfiable`)',
  429: 'Too many requests of this kind (`too_many_requests`); retry after the `Retry-After` seconds',
  500: 'Internal error (`internal`) or a failed index job',
  503: 'Too many images being encoded (`busy`); retry after the `Retry-After` seconds',
  507: 'The disk holding the data is full (`storage_full`, "disk full: …"); retry once space is freed'
} as const;

const STARTING =
  'Still starting (`starting`): the first download of the model; retry after the `Retry-After` seconds';
const CROSS_SITE =
  'A cross-site request from a browser page (`cross_site_refused`); see LOOKALIKE_CORS_ORIGINS';

/**
 * Answers every operation can give before its handler runs, added to each one in the document:
 * the `collection` query's 400 and 404, the Host check's 421, the cross-site refusal's 403 (methods that change something), the body
 * cap's 413 (operations with a body), the start-up app's 503 `starting` (serve's first model
 * download), and Node's own 431 (request line and headers over 16 KiB, without a body). Call it
 * once every route is registered.
 */
export function addCommonResponses(registry: OpenAPIHono['openAPIRegistry']): void {
  for (const definition of registry.definitions) {
    if (definition.type !== 'route') continue;
    const { route } = definition;
    // Mutated in place (idempotent: module-level routes meet this once per app).
    const responses = route.responses as Record<
      string,
      { description: string; content?: Record<string, { schema: typeof ErrorSchema }> }
    >;
    const add = (status: number, description: string) => {
      const known = responses[status];
      if (known) {
        if (!known.description.includes(description)) known.description += `; or: ${description}`;
      } else {
        responses[status] = {
          description,
          content: { 'application/json': { schema: ErrorSchema } }
        };
      }
    };
    if (route.method !== 'get' && route.method !== 'head') add(403, CROSS_SITE);
    // The optional `collection` query (collection-scope.ts): a malformed name, an unknown one.
    const query = route.request?.query as { shape?: Record<string, unknown> } | undefined;
    if (query?.shape && 'collection' in query.shape) {
      add(400, 'Not a collection name (`invalid_request`)');
      add(404, 'No collection of that name (`collection_not_found`)');
    }
    if (route.request?.body) add(413, ERROR_DESCRIPTIONS[413]);
    if (!route.path.endsWith('/health')) add(503, STARTING);
    add(
      421,
      'Host name this server does not answer to (`misdirected_request`); see LOOKALIKE_ALLOWED_HOSTS'
    );
    responses[431] ??= {
      description: 'Request line and headers over 16 KiB (answered by Node, without a body)'
    };
  }
}

/** Errors a job body lists; the rest are paged from GET /api/index/{jobId}/errors. */
export const JOB_ERRORS_PREVIEW = 20;

export const JobErrorSchema = jobErrorSchema.meta({ id: 'IndexJobError' });

/**
 * The stored job's fields, whose types the API shows as they are, documented here with zod's own
 * `.meta()` (which the OpenAPI generator reads): `.openapi()` exists only on schemas made after
 * @hono/zod-openapi was loaded, and job-store.ts may be loaded before it.
 */
const job = jobRecordSchema.shape;

/** A counter's description: the words the page and the CLI show for it (core/job-counters.ts). */
function counterDoc(key: JobCounterKey): { description: string } {
  const { label, meaning } = JOB_COUNTERS.find((counter) => counter.key === key)!;
  return { description: `Shown as "${label}": ${meaning}` };
}

/** A job's state and counters: the body of its progress events. */
export const JobProgressSchema = z
  .object({
    jobId: job.jobId.meta({ example: '5b0f6f7e-3f0e-4c61-9d51-0a3c1c3f4e2b' }),
    state: job.state,
    path: job.path.meta({ description: 'Real path of the indexed folder (or file)' }),
    recursive: job.recursive,
    seen: job.seen.meta(counterDoc('seen')),
    total: job.total.meta({
      description:
        'Files the job will look at (from a quick count alongside it); absent until known'
    }),
    indexed: job.indexed.meta(counterDoc('indexed')),
    unchanged: job.unchanged.meta(counterDoc('unchanged')),
    skipped: job.skipped.meta(counterDoc('skipped')),
    failed: job.failed.meta(counterDoc('failed')),
    removed: job.removed.meta(counterDoc('removed')),
    errorCount: z.int().openapi({
      description:
        'Per-file errors listed so far (the first 1000 of the skipped and failed files); page ' +
        'them from GET /api/index/{jobId}/errors'
    }),
    createdAt: job.createdAt.meta({ description: 'Unix time in ms' }),
    finishedAt: job.finishedAt,
    message: job.message.meta({ description: 'Why a job failed' })
  })
  .openapi('IndexJobProgress');

export const JobSchema = JobProgressSchema.extend({
  errors: z.array(JobErrorSchema).openapi({
    description:
      `The first ${JOB_ERRORS_PREVIEW} per-file errors; all \`errorCount\` of them from ` +
      'GET /api/index/{jobId}/errors'
  })
}).openapi('IndexJob');

/** The `errors` event of a job's event stream: errors added since the last event. */
export const JobErrorsEventSchema = z
  .object({
    offset: z.int().openapi({ description: "Index of the first of these in the job's errors" }),
    errors: z.array(JobErrorSchema)
  })
  .openapi('IndexJobErrorsEvent');

/**
 * One event of a job's event stream, as the stream's schema (OpenAPI 3.0 has `schema` describe
 * each event of a text/event-stream, as 3.2's itemSchema does).
 */
export const JobStreamEventSchema = z
  .object({
    event: z.enum(['message', 'errors']).openapi({
      description: '`message` (unnamed): IndexJobProgress; `errors`: IndexJobErrorsEvent'
    }),
    id: z.string().regex(/^\d+$/).openapi({
      description: "How many of the job's errors the client has had (Last-Event-ID on reconnecting)"
    }),
    data: z
      .string()
      .openapi({ description: 'The IndexJobProgress or IndexJobErrorsEvent, as JSON' })
  })
  .openapi('IndexJobStreamEvent');

export const JobErrorsPageSchema = z
  .object({
    total: z.int().openapi({ description: 'Errors listed for the job' }),
    offset: z.int(),
    errors: z.array(JobErrorSchema)
  })
  .openapi('IndexJobErrors');

export type JobProgressJson = z.infer<typeof JobProgressSchema>;
export type JobJson = z.infer<typeof JobSchema>;
export type JobErrorJson = z.infer<typeof JobErrorSchema>;
export type JobErrorsEventJson = z.infer<typeof JobErrorsEventSchema>;
export type JobErrorsPageJson = z.infer<typeof JobErrorsPageSchema>;

/** A job's state and counters as the API shows them (a fixed set of keys, whatever the store adds). */
export function jobProgressJson(job: JobRecord): JobProgressJson {
  return {
    jobId: job.jobId,
    state: job.state,
    path: job.path,
    recursive: job.recursive,
    seen: job.seen,
    ...(job.total !== undefined ? { total: job.total } : {}),
    indexed: job.indexed,
    unchanged: job.unchanged,
    skipped: job.skipped,
    failed: job.failed,
    removed: job.removed,
    errorCount: job.errors.length,
    createdAt: job.createdAt,
    ...(job.finishedAt !== undefined ? { finishedAt: job.finishedAt } : {}),
    ...(job.message ? { message: job.message } : {})
  };
}

/** A job as GET /api/index/{jobId} shows it: its progress and its first errors. */
export function jobJson(job: JobRecord): JobJson {
  return {
    ...jobProgressJson(job),
    errors: errorsJson(job.errors.slice(0, JOB_ERRORS_PREVIEW))
  };
}

export const errorsJson = (errors: readonly JobRecord['errors'][number][]) =>
  errors.map(({ path, reason }) => ({ path, reason }));

export const SearchHitSchema = z
  .object({
    id: z.int(),
    path: z.string().openapi({
      description: 'The first of `paths`: one file of the picture, for clients that want one'
    }),
    paths: z.array(z.string()).min(1).openapi({
      description:
        'Every file with these bytes (identical files are one picture), sorted byte by byte'
    }),
    score: z.number().openapi({ description: 'Cosine similarity, 1 = identical' }),
    width: z.int(),
    height: z.int(),
    contentHash: z.string().openapi({
      description: "SHA-256 of the picture's bytes, hex: tells the very file searched with"
    }),
    dhash: z.string().openapi({
      description:
        '64-bit difference hash, hex: re-encoded or resized copies of one picture differ in few ' +
        'bits (`lookalike duplicates` calls at most 8 the same picture)',
      example: 'c4d4b4a49494d4e4'
    }),
    imageUrl: z.string().openapi({ example: '/api/images/42' }),
    thumbUrl: z.string().openapi({ example: '/api/images/42/thumb' })
  })
  .openapi('SearchHit');
export type SearchHit = z.infer<typeof SearchHitSchema>;

export const SearchResponseSchema = z
  .object({
    results: z.array(SearchHitSchema),
    tookMs: z.number()
  })
  .openapi('SearchResponse');
export type SearchResponse = z.infer<typeof SearchResponseSchema>;

export const TopKSchema = z.coerce
  .number()
  .int()
  .min(1)
  .max(100)
  .default(10)
  .openapi({ type: 'integer', minimum: 1, maximum: 100, default: 10 });

/** An uploaded file in a multipart form. */
export const ImageFileSchema = z
  .instanceof(File, { error: 'expected an image file in the multipart field "image"' })
  .openapi({ type: 'string', format: 'binary', description: 'The picture (JPEG, PNG, WebP, …)' });

/** Numeric ids only: nothing in a request path ever names a file. */
export const ImageIdParamSchema = z.object({
  id: z
    .string()
    .regex(/^[1-9]\d{0,14}$/, 'expected a positive integer id')
    .transform(Number)
    .openapi({
      param: { name: 'id', in: 'path' },
      type: 'integer',
      minimum: 1,
      maximum: 999_999_999_999_999,
      example: '42'
    })
});

export const BinarySchema = z.string().openapi({ type: 'string', format: 'binary' });

/** One picture of a duplicate group, with what a person needs to choose between them. */
export const DuplicateMemberSchema = z
  .object({
    id: z.int(),
    paths: z.array(z.string()).openapi({ description: 'Every file with these bytes' }),
    score: z.number().optional().openapi({
      description: 'Best cosine similarity to another member (picture groups only)'
    }),
    width: z.int(),
    height: z.int(),
    bytes: z.int().openapi({ description: 'Size of one file, in bytes' }),
    format: z.string().openapi({ example: 'jpeg' }),
    modified: z.record(z.string(), z.number()).openapi({
      description: 'Each path’s last change as indexed (ms since 1970), where the catalog has it'
    }),
    imageUrl: z.string().openapi({ example: '/api/images/42' }),
    thumbUrl: z.string().openapi({ example: '/api/images/42/thumb' })
  })
  .openapi('DuplicateMember');

export const DuplicateGroupSchema = z
  .object({
    reason: z.enum(['same-bytes', 'same-picture', 'similar-scene']).openapi({
      description:
        '`same-bytes`: one picture stored under several paths; `same-picture`: re-encoded or ' +
        'resized copies (close vectors and difference hashes); `similar-scene`: close vectors only'
    }),
    explanation: z.string().openapi({ description: 'Why these belong together, in one sentence' }),
    members: z.array(DuplicateMemberSchema),
    keep: z
      .object({
        id: z.int(),
        path: z.string(),
        why: z.string().openapi({ description: 'What decided it, in words' })
      })
      .openapi({
        description:
          'A suggestion only (nothing is deleted): the member with the most pixels, then a ' +
          'lossless format (PNG, TIFF, BMP) over a camera format (JPEG, HEIF) over a web ' +
          're-encode (WebP, AVIF, GIF, others), then the most bytes, then the oldest file, then ' +
          'the shortest path; of its paths, the oldest file, then the shortest path'
      })
  })
  .openapi('DuplicateGroup');

export const DuplicatesResponseSchema = z
  .object({
    groups: z.array(DuplicateGroupSchema).openapi({
      description: 'Identical files first, then copies, then look-alikes; bigger groups first'
    }),
    model: z.string().openapi({ description: "The collection's model id" }),
    threshold: z.number().openapi({ description: 'The cosine similarity that linked pictures' }),
    thresholdMeasured: z.boolean().openapi({
      description:
        'False when the threshold is a fixed fallback: the model has no measured score bands'
    }),
    hammingMax: z.int(),
    neighbours: z.int(),
    tookMs: z.number()
  })
  .openapi('Duplicates');
export type DuplicatesResponse = z.infer<typeof DuplicatesResponseSchema>;
export type DuplicateGroupJson = z.infer<typeof DuplicateGroupSchema>;
