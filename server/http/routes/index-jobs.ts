import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { NotFoundError } from '../../errors';
import type { Runtime } from '../../runtime';
import {
  EVENT_INTERVAL_MS,
  MAX_FOLLOWERS_PER_CLIENT,
  MAX_FOLLOWERS_PER_JOB,
  type JobEvent
} from '../../services/index-jobs';
import { DEFAULT_COLLECTION } from '../../stores/collection-names';
import { collectionScope, CollectionQuerySchema } from '../collection-scope';
import { createRouter } from '../context';
import { adminAuth } from '../middleware/auth';
import {
  errors,
  errorsJson,
  JobErrorsEventSchema,
  JobErrorsPageSchema,
  JobProgressSchema,
  JobSchema,
  JobStreamEventSchema,
  jobJson,
  jobProgressJson
} from '../schemas';

export { EVENT_INTERVAL_MS };

/**
 * Each event as an SSE frame, made once however many clients follow the job (the service hands
 * every follower the same event objects).
 */
const frames = new WeakMap<JobEvent, string>();
function frameOf(event: JobEvent): string {
  let frame = frames.get(event);
  if (frame === undefined) {
    // JSON has no raw line breaks, so one `data:` line holds it.
    frame =
      event.type === 'progress'
        ? `id: ${event.id}\ndata: ${JSON.stringify(jobProgressJson(event.job))}\n\n`
        : `event: errors\nid: ${event.id}\ndata: ${JSON.stringify({ offset: event.offset, errors: errorsJson(event.errors) })}\n\n`;
    frames.set(event, frame);
  }
  return frame;
}

/** The client's address, for the per-client stream limit (requests made in-process have none). */
function clientOf(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)
    ?.incoming;
  return incoming?.socket?.remoteAddress ?? 'local';
}

const JobIdParam = z.object({
  jobId: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: 'jobId', in: 'path' }, example: '5b0f6f7e-…' })
});

const admin = [{ bearerAuth: [] }];

export function indexJobRoutes(runtime: Runtime) {
  const auth = adminAuth(runtime.config.adminToken);
  /** The collection's jobs, and its job `jobId` (404 for another collection's job). */
  const jobsOf = async (query: { collection?: string }) =>
    (await collectionScope(runtime, query.collection)).jobs;
  const jobOf = async (query: { collection?: string }, jobId: string) => {
    const jobs = await jobsOf(query);
    const job = await jobs.get(jobId);
    // Job ids are unique over collections, and the job store holds them all.
    if (!job || job.collection !== (query.collection ?? DEFAULT_COLLECTION))
      throw new NotFoundError(`No index job ${jobId}`);
    return { jobs, job };
  };

  const start = createRoute({
    method: 'post',
    path: '/index',
    tags: ['indexing'],
    summary: 'Index a folder (or one file) inside the allowed image folders',
    description:
      'Queues a job and answers at once. Paths are resolved (symlinks included) and must lie ' +
      'inside LOOKALIKE_IMAGE_ROOTS. Incremental: unchanged files are skipped, copies are linked. ' +
      "A `collection` that does not exist yet is created, with the server's model.",
    security: admin,
    middleware: [auth] as const,
    request: {
      query: CollectionQuerySchema,
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.object({
              path: z.string().min(1).max(4096).openapi({ example: '/home/me/Pictures' }),
              recursive: z.boolean().default(true)
            })
          }
        }
      }
    },
    responses: {
      202: {
        description: 'Job queued',
        content: { 'application/json': { schema: z.object({ jobId: z.string() }) } }
      },
      ...errors(400, 401, 403, 404, 413, 507)
    }
  });

  const list = createRoute({
    method: 'get',
    path: '/index',
    tags: ['indexing'],
    summary: 'Recent index jobs, newest first',
    request: {
      query: CollectionQuerySchema.extend({
        limit: z.coerce.number().int().min(1).max(100).default(20)
      })
    },
    responses: {
      200: {
        description: 'Jobs',
        content: { 'application/json': { schema: z.object({ jobs: z.array(JobSchema) }) } }
      },
      ...errors(400, 404)
    }
  });

  const get = createRoute({
    method: 'get',
    path: '/index/{jobId}',
    tags: ['indexing'],
    summary: 'One index job',
    request: { params: JobIdParam, query: CollectionQuerySchema },
    responses: {
      200: { description: 'The job', content: { 'application/json': { schema: JobSchema } } },
      ...errors(400, 404)
    }
  });

  const events = createRoute({
    method: 'get',
    path: '/index/{jobId}/events',
    tags: ['indexing'],
    summary: 'Follow a job (server-sent events)',
    description:
      "Unnamed (`message`) events carry the job's state and counters (IndexJobProgress), at " +
      `most one per ${EVENT_INTERVAL_MS} ms; \`errors\` events carry the per-file errors added ` +
      'since the previous event (IndexJobErrorsEvent, with the `offset` of the first). First come ' +
      'the errors from `errorsFrom` on (0 by default) and the current state; the final state is ' +
      "always sent, then the stream ends. Every event's `id` is how many errors the client has " +
      'had: an EventSource resumes from there by itself (`Last-Event-ID`). Close your ' +
      'EventSource when `state` is done, failed, cancelled or interrupted (otherwise it ' +
      `reconnects and gets the final state again). At most ${MAX_FOLLOWERS_PER_JOB} streams ` +
      `follow a running job, ${MAX_FOLLOWERS_PER_CLIENT} from one client: beyond that, 429.`,
    request: {
      params: JobIdParam,
      query: CollectionQuerySchema.extend({
        errorsFrom: z.coerce.number().int().min(0).optional().openapi({
          description: 'Send errors from this index on (overrides Last-Event-ID)'
        })
      }),
      headers: z.object({
        'last-event-id': z.string().max(20).optional().openapi({
          description: 'Sent by EventSource on reconnecting: errors from this index on'
        })
      })
    },
    responses: {
      200: {
        description:
          'Event stream: IndexJobProgress (`message`) and IndexJobErrorsEvent (`errors`) JSON',
        content: { 'text/event-stream': { schema: JobStreamEventSchema } }
      },
      ...errors(400, 404, 429)
    }
  });

  const jobErrors = createRoute({
    method: 'get',
    path: '/index/{jobId}/errors',
    tags: ['indexing'],
    summary: "A page of a job's per-file errors",
    description: 'Up to 1000 errors are kept per job; later problems are only counted.',
    request: {
      params: JobIdParam,
      query: CollectionQuerySchema.extend({
        offset: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(1000).default(100)
      })
    },
    responses: {
      200: {
        description: 'The errors from `offset` on',
        content: { 'application/json': { schema: JobErrorsPageSchema } }
      },
      ...errors(400, 404)
    }
  });

  const cancel = createRoute({
    method: 'delete',
    path: '/index/{jobId}',
    tags: ['indexing'],
    summary: 'Cancel a queued or running job',
    description: 'A running job stops after its current batch is stored.',
    security: admin,
    middleware: [auth] as const,
    request: { params: JobIdParam, query: CollectionQuerySchema },
    responses: {
      200: { description: 'The job', content: { 'application/json': { schema: JobSchema } } },
      ...errors(400, 401, 404)
    }
  });

  const resume = createRoute({
    method: 'post',
    path: '/index/{jobId}/resume',
    tags: ['indexing'],
    summary: 'Index the folder of a stopped job again',
    description:
      'For a job that ended `interrupted`, `failed` or `cancelled` (its server stopped, or its lease ' +
      'ran out while several servers share MySQL): starts a new job on the same folder, which ' +
      'counts what the old one stored as unchanged and finishes the rest. A job still queued or ' +
      'running (here or on another server) is answered as it is.',
    security: admin,
    middleware: [auth] as const,
    request: { params: JobIdParam, query: CollectionQuerySchema },
    responses: {
      202: {
        description: 'The job that indexes the folder now',
        content: { 'application/json': { schema: z.object({ jobId: z.string() }) } }
      },
      ...errors(400, 401, 403, 404)
    }
  });

  const router = createRouter();
  // The event stream's bodies are documented as components (the stream itself is a string).
  router.openAPIRegistry.register('IndexJobProgress', JobProgressSchema);
  router.openAPIRegistry.register('IndexJobErrorsEvent', JobErrorsEventSchema);
  return router
    .openapi(start, async (c) => {
      const { path, recursive } = c.req.valid('json');
      const { collection } = c.req.valid('query');
      const { jobs, name } = await collectionScope(runtime, collection, { create: true });
      const job = await jobs.start({ path, recursive });
      c.get('log').info({ jobId: job.jobId, path: job.path, collection: name }, 'index job queued');
      return c.json({ jobId: job.jobId }, 202);
    })
    .openapi(list, async (c) => {
      const { limit, ...query } = c.req.valid('query');
      const jobs = await jobsOf(query);
      return c.json({ jobs: (await jobs.list(limit)).map(jobJson) }, 200);
    })
    .openapi(get, async (c) => {
      const { jobId } = c.req.valid('param');
      const { job } = await jobOf(c.req.valid('query'), jobId);
      return c.json(jobJson(job), 200);
    })
    .openapi(cancel, async (c) => {
      const { jobId } = c.req.valid('param');
      const { jobs } = await jobOf(c.req.valid('query'), jobId);
      return c.json(jobJson(await jobs.cancel(jobId)), 200);
    })
    .openapi(resume, async (c) => {
      const { jobId } = c.req.valid('param');
      const { jobs } = await jobOf(c.req.valid('query'), jobId);
      const job = await jobs.resume(jobId);
      c.get('log').info({ jobId: job.jobId, resumed: jobId, path: job.path }, 'index job resumed');
      return c.json({ jobId: job.jobId }, 202);
    })
    .openapi(jobErrors, async (c) => {
      const { jobId } = c.req.valid('param');
      const { offset, limit, ...query } = c.req.valid('query');
      const { jobs } = await jobOf(query, jobId);
      const page = await jobs.errors(jobId, offset, limit);
      return c.json({ total: page.total, offset, errors: errorsJson(page.errors) }, 200);
    })
    .openapi(events, async (c) => {
      const { jobId } = c.req.valid('param');
      const { errorsFrom, ...query } = c.req.valid('query');
      const { jobs } = await jobOf(query, jobId);
      const lastEventId = Number(c.req.valid('header')['last-event-id']);
      const stop = new AbortController();
      const followed = await jobs.follow(jobId, {
        errorsFrom: errorsFrom ?? (Number.isSafeInteger(lastEventId) ? lastEventId : 0),
        client: clientOf(c),
        signal: stop.signal
      });
      return streamSSE(c, async (stream) => {
        stream.onAbort(() => stop.abort());
        try {
          for await (const event of followed) await stream.write(frameOf(event));
        } finally {
          stop.abort();
        }
      });
    });
}
