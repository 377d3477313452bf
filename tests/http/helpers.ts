import { answerClientErrors } from '../../server/http/client-errors';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { loadConfig } from '../../server/config';
import { createApp, type AppOptions } from '../../server/http/app';
import type { ErrorBody } from '../../server/http/schemas';
import { createRuntime, type Runtime } from '../../server/runtime';
import type { IndexJob } from '../../src/lib/api/types';
import { scene } from '../helpers/images';
import { TEST_MODEL_CACHE } from '../helpers/models';

/** Real runtimes on temporary folders: SQLite, usearch, the tiny model, files on disk. */

export type { ErrorBody };

export interface TestServer {
  runtime: Runtime;
  app: ReturnType<typeof createApp>;
  /** `<tmp>/images`, the one allowed image root. */
  imagesRoot: string;
  dataDir: string;
  /** `<tmp>`, outside the root. */
  base: string;
  close(): Promise<void>;
}

/**
 * A runtime plus app on a fresh temporary folder; `env` adds settings (LOOKALIKE_ADMIN_TOKEN,
 * LOOKALIKE_CORS_ORIGINS, LOOKALIKE_ENCODE_CONCURRENCY, …).
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: AppOptions & { batchSize?: number } = {}
): Promise<TestServer> {
  const base = await mkdtemp(join(tmpdir(), 'lookalike-http-'));
  const imagesRoot = join(base, 'images');
  const dataDir = join(base, 'data');
  await mkdir(imagesRoot, { recursive: true });
  const config = loadConfig(
    { model: 'tiny', dataDir, threads: 1, batchSize: options.batchSize },
    { LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE, LOOKALIKE_IMAGE_ROOTS: imagesRoot, ...env }
  );
  const runtime = await createRuntime(config);
  const app = createApp(runtime, options);
  return {
    runtime,
    app,
    imagesRoot,
    dataDir,
    base,
    async close() {
      await runtime.close();
      await rm(base, { recursive: true, force: true });
    }
  };
}

/** Writes `count` distinct generated JPEGs (seeds `firstSeed…`) named img-00.jpg … into `dir`. */
export async function writeScenes(
  dir: string,
  count: number,
  options: { firstSeed?: number; width?: number; height?: number; prefix?: string } = {}
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = join(dir, `${options.prefix ?? 'img'}-${String(i).padStart(2, '0')}.jpg`);
    const seed = (options.firstSeed ?? 1) + i;
    await writeFile(path, await scene(options.width ?? 96, options.height ?? 72, seed));
    paths.push(path);
  }
  return paths;
}

/** A real listening server on port 0, for streaming responses. */
export async function listen(
  app: TestServer['app']
): Promise<{ url: string; close(): Promise<void> }> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    answerClientErrors(s);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      })
  };
}

export function jsonRequest(body: unknown, init: RequestInit = {}): RequestInit {
  return {
    method: 'POST',
    ...init,
    headers: { 'Content-Type': 'application/json', ...(init.headers ?? {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  };
}

export function imageForm(
  bytes: Uint8Array,
  fields: Record<string, string> = {},
  name = 'query.jpg'
): FormData {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), name);
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  return form;
}

/** Asserts the common error shape and returns it. */
export async function errorOf(res: Response): Promise<ErrorBody> {
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('application/json')) {
    throw new Error(`expected a JSON error, got ${res.status} ${type}: ${await res.text()}`);
  }
  const body = (await res.json()) as ErrorBody;
  if (
    Object.keys(body).join() !== 'error' ||
    Object.keys(body.error).sort().join() !== 'code,message'
  ) {
    throw new Error(`not the error shape: ${JSON.stringify(body)}`);
  }
  if (!body.error.code || !body.error.message)
    throw new Error(`empty error: ${JSON.stringify(body)}`);
  return body;
}

/** A job as the API answers it: the same shape the web app reads. */
export type JobBody = IndexJob;

const FINISHED = ['done', 'failed', 'cancelled', 'interrupted'];

/** Starts an index job over the API and polls until it finishes. */
export async function indexAndWait(
  app: TestServer['app'],
  path: string,
  headers: Record<string, string> = {}
): Promise<JobBody> {
  const res = await app.request('/api/index', jsonRequest({ path }, { headers }));
  if (res.status !== 202) throw new Error(`index: ${res.status} ${await res.text()}`);
  const { jobId } = (await res.json()) as { jobId: string };
  for (let i = 0; i < 600; i++) {
    const job = (await (await app.request(`/api/index/${jobId}`)).json()) as JobBody;
    if (FINISHED.includes(job.state)) return job;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${jobId} did not finish`);
}

/**
 * Reads a server-sent event stream to its end: each event's name (`message` unless named), `id`,
 * and `data` parsed as JSON.
 */
export async function readEvents<T>(
  res: Response,
  onEvent?: (data: T, index: number, event: string) => void
): Promise<{ event: string; id?: string; data: T; at: number }[]> {
  const events: { event: string; id?: string; data: T; at: number }[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const field = (name: string) =>
        block
          .split('\n')
          .filter((line) => line.startsWith(`${name}: `))
          .map((line) => line.slice(name.length + 2));
      const data = field('data').join('\n');
      if (!data) continue;
      const parsed = JSON.parse(data) as T;
      const event = field('event')[0] ?? 'message';
      events.push({ event, id: field('id')[0], data: parsed, at: Date.now() });
      onEvent?.(parsed, events.length - 1, event);
    }
  }
  return events;
}
