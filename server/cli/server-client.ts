import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { scoreBandsSchema } from '#core/model-manifest';
import type { Config } from '../config';
import { UserError } from '../errors';
import { findRunningServer, type RunningServer } from '../data-dir-lock';
import { CollectionInfoSchema } from '../http/routes/collections';
import {
  DuplicatesResponseSchema,
  ErrorSchema,
  JobProgressSchema,
  JobSchema,
  SearchResponseSchema,
  type JobJson,
  type JobProgressJson
} from '../http/schemas';
import { DEFAULT_COLLECTION } from '../stores/collection-names';

/** The server's answer was an error: its message, and the status for callers that explain it. */
export class ServerAnswerError extends UserError {
  override name = 'ServerAnswerError';
  constructor(
    readonly answerStatus: number,
    message: string
  ) {
    super(message);
  }
}

/**
 * The CLI's side of a data directory held by a running `lookalike serve`: the read commands and
 * `index` ask that server over its HTTP API (the schemas in server/http are the contract) instead
 * of opening the stores a second time.
 */
export class ServerClient {
  /** Where requests go: loopback whenever the server listens there too. */
  readonly base: string;
  private readonly token: string | undefined;

  /**
   * @param dataDir the data directory the server was found in (as this command resolved it), so
   *   messages can spell out a restart of the same server.
   */
  constructor(
    readonly server: RunningServer,
    readonly dataDir?: string
  ) {
    this.base = baseUrlOf(server.url);
    // The caller's own token wins; a server started with one recorded it for its owner.
    this.token = process.env.LOOKALIKE_ADMIN_TOKEN || server.adminToken;
  }

  /** "the running server on http://… (pid 123)", for messages. */
  get description(): string {
    return `the running \`lookalike serve\` on ${this.server.url} (pid ${this.server.pid})`;
  }

  async count(collection: string | undefined): Promise<number> {
    const body = await this.json('GET', `/api/images/count${query({ collection })}`);
    return z.object({ count: z.int() }).parse(body).count;
  }

  async collections() {
    const body = await this.json('GET', '/api/collections');
    return z.object({ collections: z.array(CollectionInfoSchema) }).parse(body).collections;
  }

  /** The collection's model as far as the score words need it. */
  async model(collection: string | undefined) {
    const body = await this.json('GET', `/api/model${query({ collection })}`);
    return z.looseObject({ id: z.string(), scores: scoreBandsSchema.optional() }).parse(body);
  }

  async searchImage(collection: string | undefined, image: string, topK: number) {
    const form = new FormData();
    form.append('image', new Blob([await readFile(image)]), basename(image));
    form.append('topK', String(topK));
    const body = await this.json('POST', `/api/search/image${query({ collection })}`, form);
    return SearchResponseSchema.parse(body);
  }

  /** The explained duplicate groups; parameters left out take the server's defaults. */
  async duplicates(
    collection: string | undefined,
    params: { threshold?: number; hammingMax?: number; neighbours?: number }
  ) {
    const extra = Object.fromEntries(
      Object.entries(params)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => [key, String(value)])
    );
    const body = await this.json('GET', `/api/duplicates${query({ collection, ...extra })}`);
    return DuplicatesResponseSchema.parse(body);
  }

  /** Starts an index job (the server creates a new collection with its own model). */
  async startIndex(
    collection: string | undefined,
    path: string,
    recursive: boolean
  ): Promise<string> {
    const body = await this.json('POST', `/api/index${query({ collection })}`, {
      path,
      recursive
    });
    return z.object({ jobId: z.string() }).parse(body).jobId;
  }

  async job(collection: string | undefined, jobId: string): Promise<JobJson> {
    const path = `/api/index/${encodeURIComponent(jobId)}${query({ collection })}`;
    return JobSchema.parse(await this.json('GET', path));
  }

  async cancel(collection: string | undefined, jobId: string): Promise<void> {
    await this.json('DELETE', `/api/index/${encodeURIComponent(jobId)}${query({ collection })}`);
  }

  /**
   * The job's progress events (its server-sent event stream, without the per-file errors, which
   * the finished job lists) until the stream ends with the final state.
   */
  async *follow(collection: string | undefined, jobId: string): AsyncGenerator<JobProgressJson> {
    const path =
      `/api/index/${encodeURIComponent(jobId)}/events` +
      query({ collection, errorsFrom: String(Number.MAX_SAFE_INTEGER) });
    const res = await this.fetch('GET', path, undefined, { Accept: 'text/event-stream' });
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = frame.split('\n');
        // Named events (`errors`) are skipped; unnamed ones carry the job's progress.
        if (lines.some((line) => line.startsWith('event:'))) continue;
        const data = lines
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (data) yield JobProgressSchema.parse(JSON.parse(data));
      }
    }
  }

  /** What a starting server is doing, from its health: "downloading the model, 42%". */
  private async startingStep(): Promise<string> {
    const health = z
      .object({
        model: z
          .object({
            downloading: z
              .object({ receivedBytes: z.number(), totalBytes: z.number().nullable() })
              .optional()
          })
          .optional()
      })
      .safeParse(
        await this.fetch('GET', '/api/health').then(
          (res) => res.json(),
          () => undefined
        )
      );
    const downloading = health.success ? health.data.model?.downloading : undefined;
    if (!downloading) return 'loading the model';
    const { receivedBytes, totalBytes } = downloading;
    return totalBytes
      ? `downloading the model, ${Math.floor((100 * receivedBytes) / totalBytes)}%`
      : `downloading the model, ${Math.round(receivedBytes / 1048576)} MiB so far`;
  }

  /**
   * fetch over HTTPS to the recorded server, trusting exactly its certificate (Node's fetch takes
   * no certificate): nothing, not even the request line with the token, is sent before the peer
   * has shown that certificate. A fresh connection per request, so each one is checked.
   */
  private async pinnedFetch(url: string, init: RequestInit): Promise<Response> {
    const expected = (await pinnedCertificate(this.server)).fingerprint256;
    const request = new Request(url, init);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, {
        method: request.method,
        headers: Object.fromEntries(request.headers),
        agent: false,
        // The chain is not checked against the system's CAs; the pin below replaces that.
        rejectUnauthorized: false
      });
      req.once('socket', (socket: TLSSocket) => {
        socket.once('secureConnect', () => {
          if (socket.getPeerCertificate().fingerprint256 === expected) req.end(body);
          else req.destroy(new Error('it presented another certificate than the one it recorded'));
        });
      });
      req.once('error', reject);
      req.once('response', (res) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          if (typeof value === 'string') headers.set(name, value);
        resolve(
          new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, {
            status: res.statusCode,
            headers
          })
        );
      });
    });
  }

  private async json(method: string, path: string, body?: unknown): Promise<unknown> {
    return (await this.fetch(method, path, body)).json();
  }

  private async fetch(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {}
  ): Promise<Response> {
    const init: RequestInit = { method, headers: { ...headers } };
    const sent = init.headers as Record<string, string>;
    if (this.token) sent.Authorization = `Bearer ${this.token}`;
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      sent['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res: Response;
    try {
      const url = `${this.base}${path}`;
      res = url.startsWith('https:') ? await this.pinnedFetch(url, init) : await fetch(url, init);
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw new UserError(
        `Could not reach ${this.description}: ${cause ?? (error as Error).message}`
      );
    }
    if (res.ok) return res;
    const text = await res.text();
    const parsed = ErrorSchema.safeParse(safeJson(text));
    // (Health itself answers while starting; asking it again here could never end.)
    const starting = parsed.success && parsed.data.error.code === 'starting';
    if (res.status === 503 && starting && path !== '/api/health')
      throw new ServerAnswerError(
        res.status,
        `${capitalize(this.description)} is still starting (${await this.startingStep()}): run ` +
          'this again once it prints "Lookalike on …" (the page shows how far it is).'
      );
    const message = parsed.success ? parsed.data.error.message : text.slice(0, 300);
    const hint =
      res.status === 401
        ? ' (set LOOKALIKE_ADMIN_TOKEN to the token the server was started with)'
        : '';
    throw new ServerAnswerError(
      res.status,
      `${capitalize(this.description)} answered ${res.status}: ${message}${hint}`
    );
  }
}

/**
 * Which certificate an HTTPS server must present: the one it recorded. A self-signed or local-CA
 * certificate is what serving phones on a LAN uses, and it may not name 127.0.0.1.
 */
async function pinnedCertificate(server: RunningServer): Promise<X509Certificate> {
  if (!server.tlsCert)
    throw new UserError(
      `The running server on ${server.url} did not record its certificate; run this command ` +
        'against its data directory once it is restarted.'
    );
  try {
    return new X509Certificate(await readFile(server.tlsCert));
  } catch (error) {
    throw new UserError(
      `Cannot read the certificate ${server.tlsCert} of the running server on ${server.url}: ` +
        `${(error as Error).message}`
    );
  }
}

/** The server holding the data directory, if a live `serve` recorded itself there. */
export async function runningServerFor(config: Config): Promise<ServerClient | undefined> {
  const server = await findRunningServer(config.dataDir);
  return server ? new ServerClient(server, config.dataDir) : undefined;
}

/**
 * The base URL the CLI calls: loopback (127.0.0.1, which the server's Host check always answers)
 * when the recorded address names this machine or every interface, as "localhost" may resolve to
 * ::1 first; otherwise the recorded address, the one the server is bound to.
 */
export function baseUrlOf(recorded: string): string {
  const url = new URL(recorded);
  const name = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (['localhost', '0.0.0.0', '::'].includes(name)) url.hostname = '127.0.0.1';
  return url.origin;
}

function query(params: { collection?: string; [name: string]: string | undefined }): string {
  const { collection, ...rest } = params;
  const search = new URLSearchParams();
  if (collection && collection !== DEFAULT_COLLECTION) search.set('collection', collection);
  for (const [name, value] of Object.entries(rest)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * For the commands the running server cannot answer yet (no endpoint): one line that names the
 * server and what to do, instead of the lock's generic refusal.
 */
export async function refuseBesideServer(config: Config, command: string): Promise<void> {
  const server = await runningServerFor(config);
  if (!server) return;
  throw new UserError(
    `\`lookalike ${command}\` cannot run beside ${server.description}, which holds ` +
      `${config.dataDir} (its HTTP API has no ${command} endpoint yet): stop it first ` +
      `(Ctrl-C in its terminal, or kill ${server.server.pid}).`
  );
}

/**
 * The model flags do nothing through a server, which embeds with its own model and settings:
 * one line says so rather than ignoring them silently.
 */
export function noteIgnoredFlags(server: ServerClient, options: Record<string, unknown>): void {
  const flags = Object.entries({
    model: '--model',
    modelFile: '--model-file',
    threads: '--threads',
    batchSize: '--batch-size'
  })
    .filter(([key]) => options[key] !== undefined)
    .map(([, flag]) => flag);
  if (flags.length > 0)
    process.stderr.write(
      `Ignoring ${flags.join(', ')}: ${server.description} uses its own model settings.\n`
    );
}
