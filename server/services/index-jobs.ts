import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Embedder } from '../embedding/embedder';
import type { ImageDecoder } from '../embedding/image-decoder';
import { NotFoundError } from '../errors';
import type { JobRecord } from '../stores/catalog';
import type { Collection } from './collection';
import type { ImageRoots } from './image-roots';
import { countEntries } from './folder-walker';
import { indexFolder } from './indexer';

/** Errors kept per job; later ones are counted but not listed. */
const MAX_ERRORS = 1000;
/** How often progress is written to the catalog and the index snapshot saved during a job. */
const PERSIST_EVERY_MS = 1000;
const SNAPSHOT_EVERY_MS = 60_000;

export interface IndexJobsDeps {
  collection: Collection;
  decoder: ImageDecoder;
  embedder: Embedder;
  roots: ImageRoots;
  batchSize: number;
  log?: Logger;
}

const FINISHED = new Set<JobRecord['state']>(['done', 'failed', 'cancelled', 'interrupted']);
export const isFinished = (job: JobRecord) => FINISHED.has(job.state);

/**
 * Index jobs: one per request, run one after another, with counters, per-file errors, cancel,
 * progress events, and a record in the catalog that survives restarts (a job a crash stopped is
 * reported as `interrupted`; everything it counted as indexed is durable).
 */
export class IndexJobs {
  private readonly events = new EventEmitter();
  private readonly live = new Map<string, { job: JobRecord; abort: AbortController }>();
  private queue: Promise<unknown> = Promise.resolve();
  /** The most recent job, for the seed-compatible `/progress`. */
  latest: JobRecord | undefined;

  constructor(private readonly deps: IndexJobsDeps) {
    this.events.setMaxListeners(0);
  }

  async init(): Promise<number> {
    const interrupted = await this.deps.collection.catalog.interruptUnfinishedJobs();
    this.latest = (await this.deps.collection.catalog.recentJobs(1))[0];
    return interrupted;
  }

  /**
   * Queues a job for `path` after checking it against the roots (`roots` overrides the
   * configured ones, for the CLI's explicit folder). Resolves once the job is recorded.
   */
  async start(
    request: { path: string; recursive?: boolean },
    roots = this.deps.roots
  ): Promise<JobRecord> {
    const root = await roots.resolve(request.path);
    const job: JobRecord = {
      jobId: randomUUID(),
      state: 'queued',
      path: root,
      recursive: request.recursive ?? true,
      seen: 0,
      indexed: 0,
      unchanged: 0,
      skipped: 0,
      failed: 0,
      removed: 0,
      errors: [],
      createdAt: Date.now()
    };
    const abort = new AbortController();
    this.live.set(job.jobId, { job, abort });
    this.latest = job;
    await this.deps.collection.catalog.saveJob(job);
    this.queue = this.queue.then(() => this.run(job, abort.signal, roots));
    return { ...job };
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const live = this.live.get(jobId);
    return live
      ? { ...live.job, errors: [...live.job.errors] }
      : this.deps.collection.catalog.getJob(jobId);
  }

  async list(limit = 20): Promise<JobRecord[]> {
    const stored = await this.deps.collection.catalog.recentJobs(limit);
    return stored.map((job) => this.live.get(job.jobId)?.job ?? job).map((job) => ({ ...job }));
  }

  /** Cancels a queued or running job (a running one stops after its current batch is durable). */
  async cancel(jobId: string): Promise<JobRecord> {
    const live = this.live.get(jobId);
    if (!live) {
      const stored = await this.deps.collection.catalog.getJob(jobId);
      if (!stored) throw new NotFoundError(`No index job ${jobId}`);
      return stored;
    }
    live.abort.abort();
    if (live.job.state === 'queued') await this.finish(live.job, 'cancelled');
    return { ...live.job };
  }

  /** Calls `listener` with a copy of the job on every change until it finishes; returns unsubscribe. */
  subscribe(jobId: string, listener: (job: JobRecord) => void): () => void {
    this.events.on(jobId, listener);
    return () => this.events.off(jobId, listener);
  }

  /** Resolves with the finished job. */
  async waitFor(jobId: string): Promise<JobRecord> {
    const current = await this.get(jobId);
    if (!current) throw new NotFoundError(`No index job ${jobId}`);
    if (isFinished(current)) return current;
    return new Promise((resolve) => {
      const stop = this.subscribe(jobId, (job) => {
        if (!isFinished(job)) return;
        stop();
        resolve(job);
      });
    });
  }

  /** Cancels everything and waits for the running job to stop cleanly. */
  async close(): Promise<void> {
    for (const { abort } of this.live.values()) abort.abort();
    await this.queue;
  }

  private emit(job: JobRecord) {
    this.events.emit(job.jobId, { ...job, errors: [...job.errors] });
  }

  private async finish(job: JobRecord, state: JobRecord['state'], message?: string) {
    job.state = state;
    job.finishedAt = Date.now();
    if (message) job.message = message;
    await this.deps.collection.catalog.saveJob(job);
    this.live.delete(job.jobId);
    this.emit(job);
  }

  private async run(job: JobRecord, signal: AbortSignal, roots: ImageRoots): Promise<void> {
    if (signal.aborted || job.state !== 'queued') return;
    const { collection, decoder, embedder, batchSize, log } = this.deps;
    job.state = 'running';
    await collection.catalog.saveJob(job);
    this.emit(job);
    log?.info({ jobId: job.jobId, path: job.path }, 'index job started');
    let lastPersist = Date.now();
    const snapshots = setInterval(
      () => void collection.flush().catch(() => undefined),
      SNAPSHOT_EVERY_MS
    );
    const counting = new AbortController();
    const counted = countEntries(job.path, {
      recursive: job.recursive,
      roots,
      signal: AbortSignal.any([signal, counting.signal])
    })
      .then((total) => {
        if (total === undefined || isFinished(job)) return;
        job.total = Math.max(total, job.seen);
        this.emit(job);
      })
      .catch(() => undefined);
    try {
      const completed = await indexFolder({
        root: job.path,
        recursive: job.recursive,
        roots,
        collection,
        decoder,
        embedder,
        batchSize,
        signal,
        onStoreWait: (error) => {
          if (job.state !== 'paused')
            log?.warn({ jobId: job.jobId, err: error }, 'store unreachable: job paused');
          job.state = 'paused';
          job.message = `Paused: a store is unreachable (${error instanceof Error ? error.message : String(error)}); resuming when it is back.`;
          this.emit(job);
        },
        onStoreResume: () => {
          job.state = 'running';
          delete job.message;
          log?.info({ jobId: job.jobId }, 'store reachable again: job resumed');
          this.emit(job);
        },
        onError: (error) => {
          if (job.errors.length < MAX_ERRORS) job.errors.push(error);
        },
        onProgress: (counters) => {
          Object.assign(job, counters);
          if (job.total !== undefined && job.seen > job.total) job.total = job.seen;
          this.emit(job);
          if (Date.now() - lastPersist > PERSIST_EVERY_MS) {
            lastPersist = Date.now();
            void collection.catalog.saveJob(job).catch(() => undefined);
          }
        }
      });
      await collection.flush();
      counting.abort();
      await counted;
      // Files added or removed during the run: what the job looked at is the true total.
      if (completed) job.total = job.seen;
      await this.finish(job, completed ? 'done' : 'cancelled');
      log?.info({ ...job, errors: job.errors.length }, 'index job finished');
    } catch (error) {
      log?.error({ err: error, jobId: job.jobId }, 'index job failed');
      await this.finish(job, 'failed', error instanceof Error ? error.message : String(error));
    } finally {
      counting.abort();
      clearInterval(snapshots);
    }
  }
}
