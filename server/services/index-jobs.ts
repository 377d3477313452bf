import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Embedder } from '../embedding/embedder';
import type { ImageDecoder } from '../embedding/image-decoder';
import { asStorageFull, NotFoundError, TooManyRequestsError } from '../errors';
import type { JobRecord, JobStore } from '../stores/job-store';
import type { Collection } from './collection';
import type { ImageRoots } from './image-roots';
import { countEntries } from './folder-walker';
import { indexFolder } from './indexer';

/** Errors kept per job; later ones are counted but not listed. */
const MAX_ERRORS = 1000;
/** How often progress is written to the job store and the index snapshot saved during a job. */
const PERSIST_EVERY_MS = 1000;
const SNAPSHOT_EVERY_MS = 60_000;
/** Followers get at most one progress event per this interval (the final state always goes out). */
export const EVENT_INTERVAL_MS = 100;
/** Errors per `errors` event when a follower catches up. */
const ERRORS_PER_EVENT = 100;
/** Followers of one running job, all clients together, and from one client. */
export const MAX_FOLLOWERS_PER_JOB = 16;
export const MAX_FOLLOWERS_PER_CLIENT = 4;
const FOLLOW_RETRY_AFTER_S = 5;

export type JobError = JobRecord['errors'][number];

/**
 * What a follower of a job receives. The same objects go to every follower of a job (never mutate
 * them), so whatever a transport makes of one (a serialised SSE frame) can be made once.
 * `id` is how many of the job's errors a follower has had up to and including this event: the
 * point to resume from.
 */
export type JobEvent =
  | { type: 'progress'; id: number; job: Readonly<JobRecord> }
  | { type: 'errors'; id: number; offset: number; errors: readonly JobError[] };

export interface FollowOptions {
  /** Errors from this index on (the `id` of the last event seen); 0 by default: all of them. */
  errorsFrom?: number;
  /** Who follows (the client's address), for the per-client limit. */
  client?: string;
  /** Ends the stream (the client went away). */
  signal?: AbortSignal;
}

export interface IndexJobsDeps {
  collection: Collection;
  /** Where job records live (not collection data: they survive a clear). */
  store: JobStore;
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
 * progress events, and a record in the job store that survives restarts (a job a crash stopped is
 * reported as `interrupted`; everything it counted as indexed is durable).
 */
export class IndexJobs {
  private readonly events = new EventEmitter();
  private readonly live = new Map<string, { job: JobRecord; abort: AbortController }>();
  /** Producers of the running jobs somebody follows. */
  private readonly feeds = new Map<string, JobFeed>();
  private queue: Promise<unknown> = Promise.resolve();
  /** The most recent job, for the bootcamp-compatible `/progress`. */
  latest: JobRecord | undefined;

  constructor(private readonly deps: IndexJobsDeps) {
    this.events.setMaxListeners(0);
  }

  async init(): Promise<number> {
    const interrupted = await this.deps.store.interruptUnfinished();
    this.latest = (await this.deps.store.recent(1))[0];
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
    try {
      await this.deps.store.save(job);
    } catch (error) {
      this.live.delete(job.jobId);
      throw error;
    }
    // Jobs whose end could not be recorded (a full disk) get another try now there is room.
    for (const { job: old } of this.live.values())
      if (isFinished(old)) void this.record(old).catch(() => undefined);
    // Whatever escapes a run (its first save on a full disk) fails that job, not the queue.
    this.queue = this.queue
      .then(() => this.run(job, abort.signal, roots))
      .catch((error: unknown) => this.finish(job, 'failed', failureMessage(error)));
    return { ...job };
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const live = this.live.get(jobId);
    return live ? { ...live.job, errors: [...live.job.errors] } : this.deps.store.get(jobId);
  }

  async list(limit = 20): Promise<JobRecord[]> {
    const stored = await this.deps.store.recent(limit);
    return stored.map((job) => this.live.get(job.jobId)?.job ?? job).map((job) => ({ ...job }));
  }

  /** Cancels a queued or running job (a running one stops after its current batch is durable). */
  async cancel(jobId: string): Promise<JobRecord> {
    const live = this.live.get(jobId);
    if (!live) {
      const stored = await this.deps.store.get(jobId);
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

  /**
   * Follows a job: its current state (after the errors from `errorsFrom` on), then at most one
   * progress event per EVENT_INTERVAL_MS with any new errors just before it, ending with the
   * final state. A finished job gives its errors and final state at once. At most
   * MAX_FOLLOWERS_PER_JOB follow a running job, MAX_FOLLOWERS_PER_CLIENT from one client;
   * beyond that, TooManyRequestsError.
   */
  async follow(
    jobId: string,
    options: FollowOptions = {}
  ): Promise<AsyncIterableIterator<JobEvent>> {
    const from = Math.max(0, Math.floor(options.errorsFrom ?? 0));
    const live = this.live.get(jobId);
    if (!live || isFinished(live.job)) {
      const stored = live?.job ?? (await this.deps.store.get(jobId));
      if (!stored) throw new NotFoundError(`No index job ${jobId}`);
      const follower = new Follower(from, () => undefined);
      const final: JobEvent = { type: 'progress', id: stored.errors.length, job: stored };
      follower.push(errorEvents(stored.errors, from, stored.errors.length), final, true);
      return follower;
    }
    let feed = this.feeds.get(jobId);
    const client = options.client ?? '';
    if (feed && feed.followers.size >= MAX_FOLLOWERS_PER_JOB) {
      throw new TooManyRequestsError(
        `This job already has ${MAX_FOLLOWERS_PER_JOB} followers; poll GET /api/index/${jobId} instead`,
        FOLLOW_RETRY_AFTER_S
      );
    }
    if (feed && (feed.clients.get(client) ?? 0) >= MAX_FOLLOWERS_PER_CLIENT) {
      throw new TooManyRequestsError(
        `You already follow this job ${MAX_FOLLOWERS_PER_CLIENT} times; close a stream first`,
        FOLLOW_RETRY_AFTER_S
      );
    }
    if (!feed) {
      const created = new JobFeed(live.job, () => {
        if (this.feeds.get(jobId) === created) this.feeds.delete(jobId);
      });
      this.feeds.set(jobId, created);
      feed = created;
    }
    const joined = feed;
    const follower = new Follower(from, () => joined.remove(follower, client));
    joined.add(follower, client);
    follower.push(errorEvents(live.job.errors, from, joined.published), joined.progress, false);
    options.signal?.addEventListener('abort', () => void follower.return(), { once: true });
    if (options.signal?.aborted) await follower.return();
    return follower;
  }

  /** A page of a job's errors (at most MAX_ERRORS are kept), and how many there are. */
  async errors(
    jobId: string,
    offset: number,
    limit: number
  ): Promise<{ total: number; errors: JobError[] }> {
    const job = this.live.get(jobId)?.job ?? (await this.deps.store.get(jobId));
    if (!job) throw new NotFoundError(`No index job ${jobId}`);
    return { total: job.errors.length, errors: job.errors.slice(offset, offset + limit) };
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
    this.feeds.get(job.jobId)?.changed();
    if (this.events.listenerCount(job.jobId) > 0)
      this.events.emit(job.jobId, { ...job, errors: [...job.errors] });
  }

  private async finish(job: JobRecord, state: JobRecord['state'], message?: string) {
    job.state = state;
    job.finishedAt = Date.now();
    if (message) job.message = message;
    // A job ends even when its end cannot be stored (a full disk): followers hear it, the next
    // job runs, and the record stays in memory until a later save succeeds.
    await this.record(job).catch((error: unknown) =>
      this.deps.log?.error({ err: error, jobId: job.jobId }, "could not record the job's end")
    );
    this.emit(job);
  }

  /** Stores a job; a finished one is then read from the job store instead of memory. */
  private async record(job: JobRecord) {
    await this.deps.store.save(job);
    if (isFinished(job)) this.live.delete(job.jobId);
  }

  private async run(job: JobRecord, signal: AbortSignal, roots: ImageRoots): Promise<void> {
    if (signal.aborted || job.state !== 'queued') return;
    const { collection, store, decoder, embedder, batchSize, log } = this.deps;
    job.state = 'running';
    await store.save(job);
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
            void store.save(job).catch(() => undefined);
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
      await this.finish(job, 'failed', failureMessage(error));
    } finally {
      counting.abort();
      clearInterval(snapshots);
    }
  }
}

/** Why a job failed, in words ("disk full: …" for a full disk, whichever store hit it). */
function failureMessage(error: unknown): string {
  const reason = asStorageFull(error);
  return reason instanceof Error ? reason.message : String(reason);
}

const errorEvents = (errors: readonly JobError[], from: number, to: number): JobEvent[] => {
  const events: JobEvent[] = [];
  for (let offset = from; offset < to; offset += ERRORS_PER_EVENT) {
    const end = Math.min(offset + ERRORS_PER_EVENT, to);
    events.push({ type: 'errors', id: end, offset, errors: errors.slice(offset, end) });
  }
  return events;
};

/**
 * One running job's producer: at most one progress event per EVENT_INTERVAL_MS, plus an `errors`
 * event with the errors added since the last one; each event is built once and handed to every
 * follower, so the job's own work does not grow with its watchers.
 */
class JobFeed {
  readonly followers = new Set<Follower>();
  /** Followers per client address. */
  readonly clients = new Map<string, number>();
  /** Errors already sent out (followers that join later catch up to here first). */
  published: number;
  progress: JobEvent;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastSentAt = 0;

  constructor(
    private readonly job: JobRecord,
    private readonly onEnd: () => void
  ) {
    this.published = job.errors.length;
    this.progress = this.snapshot();
  }

  get finished() {
    return isFinished(this.job);
  }

  changed() {
    if (this.finished) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.publish();
      return;
    }
    this.timer ??= setTimeout(
      () => {
        this.timer = undefined;
        this.publish();
      },
      Math.max(0, this.lastSentAt + EVENT_INTERVAL_MS - Date.now())
    );
  }

  add(follower: Follower, client: string) {
    this.followers.add(follower);
    this.clients.set(client, (this.clients.get(client) ?? 0) + 1);
  }

  remove(follower: Follower, client: string) {
    if (!this.followers.delete(follower)) return;
    const left = (this.clients.get(client) ?? 1) - 1;
    if (left > 0) this.clients.set(client, left);
    else this.clients.delete(client);
    if (this.followers.size === 0) this.end();
  }

  /** No one follows any more, or the job finished. */
  end() {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.onEnd();
  }

  private snapshot(): JobEvent {
    return {
      type: 'progress',
      id: this.published,
      job: { ...this.job, errors: this.job.errors.slice(0, this.published) }
    };
  }

  private publish() {
    this.lastSentAt = Date.now();
    const added = errorEvents(this.job.errors, this.published, this.job.errors.length);
    this.published = this.job.errors.length;
    this.progress = this.snapshot();
    for (const follower of this.followers) follower.push(added, this.progress, this.finished);
    if (this.finished) this.end();
  }
}

/** One follower's queue: every errors event in order, and only the latest progress event. */
class Follower implements AsyncIterableIterator<JobEvent> {
  private readonly queue: JobEvent[] = [];
  private progress: JobEvent | undefined;
  private ended = false;
  private closed = false;
  private wake: (() => void) | undefined;

  /** `from`: errors before this index are not wanted (the client has them). */
  constructor(
    private readonly from: number,
    private readonly onClose: () => void
  ) {}

  push(errors: readonly JobEvent[], progress: JobEvent | undefined, last: boolean) {
    this.queue.push(...errors.filter((event) => event.id > this.from));
    this.progress = progress ?? this.progress;
    if (last) this.ended = true;
    this.wake?.();
  }

  async next(): Promise<IteratorResult<JobEvent>> {
    for (;;) {
      const event = this.queue.shift() ?? this.progress;
      if (event) {
        if (event === this.progress) this.progress = undefined;
        return { value: event, done: false };
      }
      if (this.ended) return this.return();
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  /** Stops following; what is still queued is dropped. */
  async return(): Promise<IteratorResult<JobEvent>> {
    this.queue.length = 0;
    this.progress = undefined;
    this.ended = true;
    this.wake?.();
    if (!this.closed) {
      this.closed = true;
      this.onClose();
    }
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}
