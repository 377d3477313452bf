import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { NotFoundError } from '../../errors';
import type { Runtime } from '../../runtime';
import { isFinished } from '../../services/index-jobs';
import type { JobRecord } from '../../stores/catalog';
import { createRouter } from '../context';
import { adminAuth } from '../middleware/auth';
import { errors, JobSchema, jobJson } from '../schemas';

/** Progress events are sent at most this often (the final state always goes out). */
export const EVENT_INTERVAL_MS = 100;

const JobIdParam = z.object({
  jobId: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: 'jobId', in: 'path' }, example: '5b0f6f7e-…' })
});

const admin = [{ bearerAuth: [] }];

export function indexJobRoutes({ jobs, config }: Runtime) {
  const auth = adminAuth(config.adminToken);

  const start = createRoute({
    method: 'post',
    path: '/index',
    tags: ['indexing'],
    summary: 'Index a folder (or one file) inside the allowed image folders',
    description:
      'Queues a job and answers at once. Paths are resolved (symlinks included) and must lie ' +
      'inside LOOKALIKE_IMAGE_ROOTS. Incremental: unchanged files are skipped, copies are linked.',
    security: admin,
    middleware: [auth] as const,
    request: {
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
      ...errors(400, 401, 403, 404, 413)
    }
  });

  const list = createRoute({
    method: 'get',
    path: '/index',
    tags: ['indexing'],
    summary: 'Recent index jobs, newest first',
    request: {
      query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) })
    },
    responses: {
      200: {
        description: 'Jobs',
        content: { 'application/json': { schema: z.object({ jobs: z.array(JobSchema) }) } }
      },
      ...errors(400)
    }
  });

  const get = createRoute({
    method: 'get',
    path: '/index/{jobId}',
    tags: ['indexing'],
    summary: 'One index job',
    request: { params: JobIdParam },
    responses: {
      200: { description: 'The job', content: { 'application/json': { schema: JobSchema } } },
      ...errors(404)
    }
  });

  const events = createRoute({
    method: 'get',
    path: '/index/{jobId}/events',
    tags: ['indexing'],
    summary: 'Follow a job (server-sent events)',
    description:
      'One `message` event carrying the job JSON on every change, at most ten a second; the ' +
      'final state is always sent, then the stream ends. Close your EventSource when `state` is ' +
      'done, failed, cancelled or interrupted (otherwise it reconnects and gets the final state again).',
    request: { params: JobIdParam },
    responses: {
      200: {
        description: 'Event stream of IndexJob JSON',
        content: { 'text/event-stream': { schema: z.string() } }
      },
      ...errors(404)
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
    request: { params: JobIdParam },
    responses: {
      200: { description: 'The job', content: { 'application/json': { schema: JobSchema } } },
      ...errors(401, 404)
    }
  });

  return createRouter()
    .openapi(start, async (c) => {
      const { path, recursive } = c.req.valid('json');
      const job = await jobs.start({ path, recursive });
      c.get('log').info({ jobId: job.jobId, path: job.path }, 'index job queued');
      return c.json({ jobId: job.jobId }, 202);
    })
    .openapi(list, async (c) => {
      const { limit } = c.req.valid('query');
      return c.json({ jobs: (await jobs.list(limit)).map(jobJson) }, 200);
    })
    .openapi(get, async (c) => {
      const { jobId } = c.req.valid('param');
      const job = await jobs.get(jobId);
      if (!job) throw new NotFoundError(`No index job ${jobId}`);
      return c.json(jobJson(job), 200);
    })
    .openapi(cancel, async (c) => {
      const { jobId } = c.req.valid('param');
      return c.json(jobJson(await jobs.cancel(jobId)), 200);
    })
    .openapi(events, async (c) => {
      const { jobId } = c.req.valid('param');
      // Subscribe before reading the job, so no change falls between the two.
      let latest: JobRecord | undefined;
      let wake: (() => void) | undefined;
      const unsubscribe = jobs.subscribe(jobId, (job) => {
        latest = job;
        wake?.();
      });
      const current = await jobs.get(jobId).catch((error: unknown) => {
        unsubscribe();
        throw error;
      });
      if (!current) {
        unsubscribe();
        throw new NotFoundError(`No index job ${jobId}`);
      }
      latest ??= current;
      return streamSSE(c, async (stream) => {
        let closed = false;
        stream.onAbort(() => {
          closed = true;
          wake?.();
        });
        const nextChange = () =>
          new Promise<void>((resolve) => {
            wake = () => {
              wake = undefined;
              resolve();
            };
          });
        const pause = (ms: number) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, ms);
            wake = () => {
              // A finished job or a closed client should not wait out the pause.
              if (closed || (latest && isFinished(latest))) {
                clearTimeout(timer);
                resolve();
              }
            };
          });
        let sent = 0;
        let lastSentAt = 0;
        try {
          while (!closed) {
            if (!latest) {
              await nextChange();
              continue;
            }
            const wait = lastSentAt + EVENT_INTERVAL_MS - Date.now();
            if (wait > 0 && !isFinished(latest)) {
              await pause(wait);
              continue;
            }
            const job = latest;
            latest = undefined;
            await stream.writeSSE({ data: JSON.stringify(jobJson(job)), id: String(sent++) });
            lastSentAt = Date.now();
            if (isFinished(job)) break;
          }
        } finally {
          wake = undefined;
          unsubscribe();
        }
      });
    });
}
