import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Embedder } from '../embedding/embedder';
import type { ImageDecoder } from '../embedding/image-decoder';
import { asStorageFull, NotFoundError, TooManyRequestsError } from '../errors';
import {
  asInterrupted,
  isUnfinished,
  type JobRecord,
  type JobStore,
  type OwnedSave
} from '../stores/job-store';
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

/**
 * A job's lease: its owner renews it while the job is queued or running, and a job whose lease
 * ran out belongs to a server that is gone (other servers may then take the folder over).
 * The runtime passes LOOKALIKE_JOB_LEASE_MS (config `jobLeaseMs`).
 */
export const DEFAULT_LEASE_MS = 30_000;
/** Renewals per lease: a server that misses a few (a slow database) keeps its jobs. */
const RENEWALS_PER_LEASE = 6;
/** How often a job another server runs is read again by those who follow or wait for it. */
const DEFAULT_POLL_MS = 500;

/** One id per process: the owner of every job this process runs (whatever its collection). */
export const PROCESS_SERVER_ID = randomUUID();

/** The jobs each server id runs in this process, across its IndexJobs (one per collection). */
const runningHere = new Map<string, Set<string>>();
const runsHere = (serverId: string, jobId: string) =>
  runningHere.get(serverId)?.has(jobId) ?? false;

/** Where a process runs, as recorded in its jobs' `ownerProcess`. */
export interface OwnerProcess {
  /** `<boot id>/<pid namespace>`: equal only for processes that see each other's pids. */
  machine: string;
  pid: number;
}

/** This process, or undefined where the boot id and pid namespace cannot be read (not Linux). */
function thisProcess(): OwnerProcess | undefined {
  if (process.env.LOOKALIKE_JOB_OWNER_CHECK === 'lease') return undefined;
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return { machine: `${boot}/${readlinkSync('/proc/self/ns/pid')}`, pid: process.pid };
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (EPERM: it does, and belongs to someone else). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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
  /** The collection this instance runs jobs for (records carry it); `default` by default. */
  collectionName?: string;
  /** The owner of the jobs started here: PROCESS_SERVER_ID by default (tests: one per "server"). */
  serverId?: string;
  /** How long a lease lasts (DEFAULT_LEASE_MS; the runtime passes LOOKALIKE_JOB_LEASE_MS). */
  leaseMs?: number;
  /** How often the leases of this instance's unfinished jobs are renewed (a sixth of the lease). */
  renewEveryMs?: number;
  /** How often a job another server runs is read again by followers and waiters. */
  pollMs?: number;
  /**
   * This process as recorded in its jobs, so a server on the same machine sees at once that an
   * owner is gone; null: none (only the lease counts). Found from /proc by default.
   */
  ownerProcess?: OwnerProcess | null;
  /** The clock leases are measured with. */
  now?: () => number;
  /** Called with the folder (real path) of every job started here, before it is recorded. */
  onStart?: (folder: { path: string; recursive: boolean }) => Promise<void>;
}

/** A job this instance runs. */
interface LiveJob {
  job: JobRecord;
  abort: AbortController;
  /** The save running now, and the one queued after it (saves of one job never overlap). */
  saving?: Promise<OwnedSave>;
  queuedSave?: Promise<OwnedSave>;
  /** Another server took the job over (its lease ran out): it is no longer recorded from here. */
  lost?: boolean;
}

const FINISHED = new Set<JobRecord['state']>(['done', 'failed', 'cancelled', 'interrupted']);
export const isFinished = (job: JobRecord) => FINISHED.has(job.state);

/**
 * Index jobs: one per request, run one after another, with counters, per-file errors, cancel,
 * progress events, and a record in the job store that survives restarts (a job a crash stopped is
 * reported as `interrupted`; everything it counted as indexed is durable).
 *
 * Several servers may share the job store (MySQL). Each job has an owner (the server id) and a
 * lease its owner renews while the job is unfinished. A server treats another's unfinished job as
 * running while its lease holds (and, on the same machine, while its process exists); otherwise
 * the job is stopped: it reads as `interrupted`, and is marked so at the next start or by the
 * next start of its folder. Starting a folder (same collection and path) that another server's
 * job is running answers that job instead of starting a second one; starting a folder whose
 * job's server is gone marks that job `interrupted` and starts a new one, which finishes the work
 * (indexing is incremental: what the stopped job stored counts as unchanged). A server's own
 * second start of a folder queues behind its first, as it always did. Jobs another server runs
 * can be followed, waited for and cancelled (the owner stops at its next renewal).
 */
export class IndexJobs {
  private readonly events = new EventEmitter();
  private readonly live = new Map<string, LiveJob>();
  /** Producers of the running jobs somebody follows. */
  private readonly feeds = new Map<string, JobFeed>();
  private queue: Promise<unknown> = Promise.resolve();
  /** The most recent job, for the bootcamp-compatible `/progress`. */
  latest: JobRecord | undefined;
  readonly collectionName: string;
  readonly serverId: string;
  private readonly leaseMs: number;
  private readonly renewEveryMs: number;
  private readonly pollMs: number;
  private readonly owner: OwnerProcess | undefined;
  private readonly now: () => number;
  private renewal: ReturnType<typeof setInterval> | undefined;
  /** Aborted by close(): ends the polling of jobs other servers run. */
  private readonly closing = new AbortController();

  constructor(private readonly deps: IndexJobsDeps) {
    this.events.setMaxListeners(0);
    this.collectionName = deps.collectionName ?? 'default';
    this.serverId = deps.serverId ?? PROCESS_SERVER_ID;
    this.leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
    this.renewEveryMs = deps.renewEveryMs ?? this.leaseMs / RENEWALS_PER_LEASE;
    this.pollMs = deps.pollMs ?? Math.min(DEFAULT_POLL_MS, this.renewEveryMs);
    this.owner = deps.ownerProcess === null ? undefined : (deps.ownerProcess ?? thisProcess());
    this.now = deps.now ?? Date.now;
  }

  /** At start-up: this collection's jobs whose server is gone become `interrupted`; how many. */
  async init(): Promise<number> {
    const interrupted = await this.deps.store.interruptUnfinished(
      (job) => job.collection === this.collectionName && !this.isRunning(job)
    );
    this.latest = (await this.deps.store.recent(1, this.collectionName))[0];
    return interrupted;
  }

  /**
   * Whether an unfinished stored job is still being run by some server: this process runs it, or
   * it is another server's whose lease holds and whose process (where we can see it) exists.
   */
  isRunning(job: JobRecord): boolean {
    if (!isUnfinished(job)) return false;
    if (job.owner === this.serverId) return runsHere(this.serverId, job.jobId);
    // Only this process can use an exclusive store: a job it does not run is stopped.
    if (this.deps.store.exclusive || job.owner === undefined || job.leaseUntil === undefined)
      return false;
    if (job.leaseUntil <= this.now()) return false;
    const owner = job.ownerProcess;
    if (!owner || !this.owner || owner.machine !== this.owner.machine) return true;
    // Same machine: a pid that is gone, or ours under another server id (a restarted container),
    // is a stopped owner.
    return owner.pid !== this.owner.pid && pidExists(owner.pid);
  }

  /** A stored job as it stands: unfinished but no longer run by anyone reads as `interrupted`. */
  private view(job: JobRecord): JobRecord {
    return isUnfinished(job) && !this.isRunning(job)
      ? asInterrupted(job, Math.min(job.leaseUntil ?? this.now(), this.now()))
      : job;
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
    // The folder joins the collection's Library (the caller's hook) before its job exists.
    await this.deps.onStart?.({ path: root, recursive: request.recursive ?? true });
    const createdAt = this.now();
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
      createdAt,
      collection: this.collectionName,
      owner: this.serverId,
      leaseUntil: createdAt + this.leaseMs,
      ...(this.owner ? { ownerProcess: this.owner } : {})
    };
    const abort = new AbortController();
    const entry: LiveJob = { job, abort };
    // Known as running here before the decision, so a start racing it here sees it running.
    this.live.set(job.jobId, entry);
    this.markRunningHere(job.jobId, true);
    let decision;
    try {
      // One transaction: another server's running job of this folder is the answer; this
      // server's own jobs of it are kept (this one queues behind them); stopped ones end.
      decision = await this.deps.store.startUnlessRunning(job, (other) => {
        if (other.owner === this.serverId)
          return runsHere(this.serverId, other.jobId) ? 'keep' : 'interrupt';
        return this.isRunning(other) ? 'answer' : 'interrupt';
      });
    } catch (error) {
      this.forget(job.jobId);
      throw error;
    }
    if (!decision.created) {
      this.forget(job.jobId);
      this.deps.log?.info(
        { jobId: decision.job.jobId, owner: decision.job.owner, path: root },
        'the folder is being indexed by another server: answering its job'
      );
      this.latest = decision.job;
      return { ...decision.job };
    }
    for (const stopped of decision.interrupted) {
      this.deps.log?.warn(
        { jobId: stopped.jobId, owner: stopped.owner, takenOverBy: job.jobId },
        "a stopped server's job of this folder is interrupted; a new job finishes it"
      );
    }
    this.latest = job;
    this.keepLeases();
    // Jobs whose end could not be recorded (a full disk) get another try now there is room.
    for (const old of this.live.values())
      if (isFinished(old.job)) void this.record(old).catch(() => undefined);
    // Whatever escapes a run (its first save on a full disk) fails that job, not the queue.
    this.queue = this.queue
      .then(() => this.run(entry, roots))
      .catch((error: unknown) => this.finish(entry, 'failed', failureMessage(error)));
    return { ...job };
  }

  /**
   * Starts again the folder of a job whose server is gone (or that was interrupted, cancelled or
   * failed): the same as `start` with its path and `recursive`, so a job still running answers.
   */
  async resume(jobId: string, roots = this.deps.roots): Promise<JobRecord> {
    const job = await this.get(jobId);
    if (!job) throw new NotFoundError(`No index job ${jobId}`);
    if (!isFinished(job)) return job;
    return this.start({ path: job.path, recursive: job.recursive }, roots);
  }

  /** A job by id (whatever its collection: ids are unique). */
  async get(jobId: string): Promise<JobRecord | undefined> {
    const live = this.live.get(jobId);
    if (live) return { ...live.job, errors: [...live.job.errors] };
    const stored = await this.deps.store.get(jobId);
    return stored && this.view(stored);
  }

  /** This collection's newest jobs, newest first. */
  async list(limit = 20): Promise<JobRecord[]> {
    const stored = await this.deps.store.recent(limit, this.collectionName);
    return stored.map((job) => ({ ...(this.live.get(job.jobId)?.job ?? this.view(job)) }));
  }

  /**
   * Cancels a queued or running job (a running one stops after its current batch is durable).
   * A job another server runs is asked to cancel: it stops at its owner's next lease renewal.
   */
  async cancel(jobId: string): Promise<JobRecord> {
    const live = this.live.get(jobId);
    if (!live) {
      const stored = await this.get(jobId);
      if (!stored) throw new NotFoundError(`No index job ${jobId}`);
      if (isFinished(stored)) return stored;
      return (await this.deps.store.requestCancel(jobId)) ?? stored;
    }
    live.abort.abort();
    if (live.job.state === 'queued') await this.finish(live, 'cancelled');
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
      const stored = live?.job ?? (await this.get(jobId));
      if (!stored) throw new NotFoundError(`No index job ${jobId}`);
      if (!isFinished(stored)) return this.followElsewhere(stored, from, options.signal);
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

  /**
   * Follows a job another server runs (or one that stopped without a record of its end) by
   * reading its record every pollMs: the same events as a local follower, fewer of them.
   */
  private followElsewhere(
    first: JobRecord,
    from: number,
    signal?: AbortSignal
  ): AsyncIterableIterator<JobEvent> {
    let stopped = false;
    const follower = new Follower(from, () => (stopped = true));
    let sent = from;
    let previous = '';
    const push = (job: JobRecord) => {
      const text = JSON.stringify(job);
      const last = isFinished(job);
      if (text === previous && !last) return;
      previous = text;
      const added = errorEvents(job.errors, sent, job.errors.length);
      sent = Math.max(sent, job.errors.length);
      follower.push(added, { type: 'progress', id: job.errors.length, job }, last);
      if (last) stopped = true;
    };
    push(first);
    void (async () => {
      while (!stopped) {
        if (!(await this.pause())) return void follower.return();
        if (stopped) return;
        const job = await this.get(first.jobId).catch(() => undefined);
        if (job) push(job);
      }
    })();
    signal?.addEventListener('abort', () => void follower.return(), { once: true });
    if (signal?.aborted) void follower.return();
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

  /** Resolves with the finished job (one another server runs: read again every pollMs). */
  async waitFor(jobId: string): Promise<JobRecord> {
    const current = await this.get(jobId);
    if (!current) throw new NotFoundError(`No index job ${jobId}`);
    if (isFinished(current)) return current;
    if (!this.live.has(jobId)) {
      let job = current;
      // Closing ends the wait with the job as last seen (still unfinished).
      while (await this.pause()) {
        job = (await this.get(jobId).catch(() => undefined)) ?? job;
        if (this.latest?.jobId === jobId) this.latest = job;
        if (isFinished(job)) break;
      }
      return job;
    }
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
    this.closing.abort();
    for (const { abort } of this.live.values()) abort.abort();
    await this.queue;
    clearInterval(this.renewal);
    this.renewal = undefined;
  }

  /** Waits pollMs before reading a job another server runs again; false once closing. */
  private async pause(): Promise<boolean> {
    try {
      await delay(this.pollMs, undefined, { signal: this.closing.signal });
      return true;
    } catch {
      return false;
    }
  }

  private markRunningHere(jobId: string, running: boolean) {
    let jobs = runningHere.get(this.serverId);
    if (running) {
      if (!jobs) runningHere.set(this.serverId, (jobs = new Set()));
      jobs.add(jobId);
    } else {
      jobs?.delete(jobId);
      if (jobs?.size === 0) runningHere.delete(this.serverId);
    }
  }

  /** Drops a job from memory: it is finished and recorded, lost, or was never recorded. */
  private forget(jobId: string) {
    this.live.delete(jobId);
    this.markRunningHere(jobId, false);
  }

  /** Renews the leases of the unfinished jobs here every renewEveryMs while there are any. */
  private keepLeases() {
    this.renewal ??= setInterval(() => {
      const unfinished = [...this.live.values()].filter((entry) => !isFinished(entry.job));
      if (unfinished.length === 0) {
        clearInterval(this.renewal);
        this.renewal = undefined;
        return;
      }
      // A failed renewal (the database unreachable for a moment) is retried at the next tick.
      for (const entry of unfinished) void this.persist(entry).catch(() => undefined);
    }, this.renewEveryMs);
    this.renewal.unref();
  }

  /**
   * Saves a job this server runs, with its lease renewed, after any save of it already running
   * (one queued save stands for any number of requests). Finds out whether another server took
   * the job over (then it stops here) or asked to cancel it.
   */
  private persist(entry: LiveJob): Promise<OwnedSave> {
    if (entry.queuedSave) return entry.queuedSave;
    const previous = entry.saving ?? Promise.resolve(undefined);
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        entry.queuedSave = undefined;
        if (entry.lost) return { saved: false, cancelRequested: false };
        entry.job.leaseUntil = this.now() + this.leaseMs;
        const result = await this.deps.store.saveOwned(entry.job);
        if (!result.saved) this.lose(entry);
        else if (result.cancelRequested && !entry.abort.signal.aborted) {
          this.deps.log?.info({ jobId: entry.job.jobId }, 'index job cancelled by another server');
          void this.cancel(entry.job.jobId).catch(() => undefined);
        }
        return result;
      });
    entry.queuedSave = next;
    entry.saving = next;
    return next;
  }

  /**
   * The store says the job is not ours any more: this server missed its renewals long enough
   * for another to find the job stopped and take the folder over. Stop here without recording.
   */
  private lose(entry: LiveJob) {
    if (entry.lost) return;
    entry.lost = true;
    entry.abort.abort();
    const { job } = entry;
    this.deps.log?.warn({ jobId: job.jobId }, 'index job taken over by another server');
    Object.assign(job, asInterrupted(job, this.now()), {
      message:
        'This server could not renew the lease of this job in time, so another server took ' +
        'the folder over; everything counted as indexed is kept.'
    });
    this.forget(job.jobId);
    this.emit(job);
  }

  private emit(job: JobRecord) {
    this.feeds.get(job.jobId)?.changed();
    if (this.events.listenerCount(job.jobId) > 0)
      this.events.emit(job.jobId, { ...job, errors: [...job.errors] });
  }

  private async finish(entry: LiveJob, state: JobRecord['state'], message?: string) {
    const { job } = entry;
    if (entry.lost) return;
    job.state = state;
    job.finishedAt = Date.now();
    if (message) job.message = message;
    // A job ends even when its end cannot be stored (a full disk): followers hear it, the next
    // job runs, and the record stays in memory until a later save succeeds.
    await this.record(entry).catch((error: unknown) =>
      this.deps.log?.error({ err: error, jobId: job.jobId }, "could not record the job's end")
    );
    this.emit(job);
  }

  /** Stores a job; a finished one is then read from the job store instead of memory. */
  private async record(entry: LiveJob) {
    const { saved } = await this.persist(entry);
    if (saved && isFinished(entry.job)) this.forget(entry.job.jobId);
  }

  private async run(entry: LiveJob, roots: ImageRoots): Promise<void> {
    const { job } = entry;
    const { signal } = entry.abort;
    if (signal.aborted || job.state !== 'queued') return;
    const { collection, decoder, embedder, batchSize, log } = this.deps;
    job.state = 'running';
    if (!(await this.persist(entry)).saved) return;
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
      // Pictures the catalog holds but the vector index may lack (a server died between the two
      // writes, say the one whose job of this folder this one takes over) go into the index
      // first, so the folder's new job finishes what the old one left: it counts them unchanged.
      const repaired = await collection.reconcile();
      if (repaired > 0) log?.warn({ jobId: job.jobId, repaired }, 'pending pictures indexed');
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
            void this.persist(entry).catch(() => undefined);
          }
        }
      });
      await collection.flush();
      counting.abort();
      await counted;
      // Files added or removed during the run: what the job looked at is the true total.
      if (completed) job.total = job.seen;
      await this.finish(entry, completed ? 'done' : 'cancelled');
      log?.info({ ...job, errors: job.errors.length }, 'index job finished');
    } catch (error) {
      log?.error({ err: error, jobId: job.jobId }, 'index job failed');
      await this.finish(entry, 'failed', failureMessage(error));
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
