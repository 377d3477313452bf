import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { NotFoundError, ValidationError } from '../errors';
import type { LibraryFolder } from '../stores/catalog';
import { isUnfinished, type JobRecord } from '../stores/job-store';
import type { Collections, OpenCollection } from './collections';
import { FolderWatchers, type WatchState, type WatchTarget } from './folder-watch';
import type { ImageRoots } from './image-roots';

/** A Library folder as the Library view shows it. */
export interface LibraryFolderInfo extends LibraryFolder {
  /** Files of the collection in it (paths: copies count once each). */
  pictures: number;
  /** How this server watches it now; absent when it does not (not watched, or not serving). */
  watch?: WatchState;
  /** Its newest index job among the collection's recent ones. */
  lastRun?: JobRecord;
}

export interface WatchSettings {
  /** Poll every this many ms instead of file-system events; 0: events (LOOKALIKE_WATCH_POLL_MS). */
  pollMs: number;
  maxFolders: number;
  maxDirectories: number;
  debounceMs?: number;
}

/** Recent jobs looked at for each folder's last run. */
const RECENT_JOBS = 200;
/**
 * How often the watched folders are read again from the catalog: servers sharing MySQL see each
 * other's watches, and a folder unwatched elsewhere stops here.
 */
const SYNC_EVERY_MS = 30_000;

/**
 * The Library of each collection: its folders (every folder an index job started for) with their
 * pictures and last run, re-index, removal, and the watched folders, whose changes start the
 * folder's index job (the one ingest path: new, changed and deleted files are picked up there).
 */
export class Library {
  #watchers: FolderWatchers | undefined;
  #sync: ReturnType<typeof setInterval> | undefined;
  #stopListening: (() => void) | undefined;
  /** The job each watched folder last started, so a burst of changes queues one run, not many. */
  readonly #started = new Map<string, string>();

  constructor(
    private readonly deps: {
      collections: Collections;
      roots: ImageRoots;
      watch: WatchSettings;
      log?: Logger;
    }
  ) {}

  /** The collection's folders, by path, with pictures, last run and watch state. */
  async folders(open: OpenCollection): Promise<LibraryFolderInfo[]> {
    const [folders, jobs] = await Promise.all([
      open.library.folders(),
      open.jobs.list(RECENT_JOBS)
    ]);
    const lastRun = new Map<string, JobRecord>();
    for (const job of jobs) if (!lastRun.has(job.path)) lastRun.set(job.path, job);
    return Promise.all(
      folders.map(async (folder) => this.#info(open, folder, lastRun.get(folder.path)))
    );
  }

  /** One folder as listed; NotFoundError when it is not in the collection's Library. */
  async folder(open: OpenCollection, path: string): Promise<LibraryFolderInfo> {
    const folder = await this.#find(open, path);
    const jobs = await open.jobs.list(RECENT_JOBS);
    return this.#info(
      open,
      folder,
      jobs.find((job) => job.path === path)
    );
  }

  /** Indexes the folder again (its own job, as POST /api/index would start). */
  async reindex(open: OpenCollection, path: string): Promise<JobRecord> {
    const folder = await this.#find(open, path);
    return open.jobs.start({ path: folder.path, recursive: folder.recursive });
  }

  /**
   * Takes a folder out of the collection: its jobs are cancelled, its files forgotten (those
   * another Library folder also covers are kept; files on disk are untouched) and pictures left
   * without a file leave the collection, the way any removal goes. Returns how many pictures went.
   */
  async remove(open: OpenCollection, path: string): Promise<{ pictures: number; files: number }> {
    const folders = await open.library.folders();
    const folder = folders.find((f) => f.path === path);
    if (!folder) throw notInLibrary();
    // Unwatched first, so a change now starts no run; running jobs end before paths go.
    await open.library.forgetFolder(path);
    await this.#resync();
    for (const job of await open.jobs.list(RECENT_JOBS)) {
      if (job.path !== path || !isUnfinished(job)) continue;
      await open.jobs.cancel(job.jobId);
      await open.jobs.waitFor(job.jobId);
    }
    const others = folders.filter((f) => f.path !== path);
    const files = (await open.collection.pathsUnder(path))
      .map((p) => p.path)
      .filter((p) => covers(folder, p) && !others.some((other) => covers(other, p)));
    const pictures = await open.collection.removePaths(files);
    this.deps.log?.info(
      { collection: open.name, path, files: files.length, pictures },
      'folder removed from the collection'
    );
    return { pictures, files: files.length };
  }

  /** Starts or stops watching a Library folder; it must still be a folder inside the roots. */
  async setWatched(
    open: OpenCollection,
    path: string,
    watched: boolean
  ): Promise<LibraryFolderInfo> {
    const folder = await this.#find(open, path);
    if (watched) {
      // The same answer as for any path outside the roots (it names none of them).
      const real = await this.deps.roots.resolve(folder.path);
      if (real !== folder.path) throw notInLibrary();
      if (!(await stat(real)).isDirectory())
        throw new ValidationError('Only a folder can be watched, not a single file');
    }
    const updated = await open.library.setFolderWatched(path, watched);
    if (!updated) throw notInLibrary();
    await this.#resync();
    return this.folder(open, path);
  }

  /**
   * Watches every watched folder of every collection (the server's part; CLI commands do not
   * watch): read from the catalog now, again every SYNC_EVERY_MS, and after a collection is
   * deleted here. Folders outside the roots are refused and reported.
   */
  async startWatching(): Promise<void> {
    if (this.#watchers) return;
    const { watch, roots, log } = this.deps;
    this.#watchers = new FolderWatchers({
      roots,
      pollMs: watch.pollMs,
      maxFolders: watch.maxFolders,
      maxDirectories: watch.maxDirectories,
      debounceMs: watch.debounceMs,
      log,
      onChange: (target) =>
        void this.#indexChanged(target).catch((error: unknown) =>
          log?.warn({ err: error, ...target }, 'watched folder: could not start its index run')
        )
    });
    this.#stopListening = this.deps.collections.onDeleted(() => void this.#resync());
    await this.#resync();
    this.#sync = setInterval(() => void this.#resync(), SYNC_EVERY_MS);
    this.#sync.unref();
  }

  /** Directory watches held now, every watched folder together (see FolderWatchers). */
  get watchDirectories(): number {
    return this.#watchers?.directoryWatches ?? 0;
  }

  /** Stops every watch (shutdown). */
  close(): void {
    clearInterval(this.#sync);
    this.#stopListening?.();
    this.#watchers?.close();
    this.#watchers = undefined;
  }

  async #resync(): Promise<void> {
    const watchers = this.#watchers;
    if (!watchers) return;
    try {
      await watchers.sync(await this.deps.collections.watchedFolders());
    } catch (error) {
      this.deps.log?.warn({ err: error }, 'watched folders could not be read; kept as they were');
    }
  }

  /**
   * A watched folder changed: start its index run, unless the run this watch started last is
   * still queued (it will see the change). A run already going may have passed the changed file,
   * so another is queued behind it: at most one waiting run per folder.
   */
  async #indexChanged(target: WatchTarget): Promise<void> {
    const open = await this.deps.collections.get(target.collection);
    if (!open) return;
    const folder = (await open.library.folders()).find((f) => f.path === target.path);
    // Unwatched or removed, here or by another server since the last sync.
    if (!folder?.watched) return;
    const k = `${target.collection}\0${target.path}`;
    const last = this.#started.get(k);
    if (last && (await open.jobs.get(last))?.state === 'queued') return;
    const job = await open.jobs.start({ path: folder.path, recursive: folder.recursive });
    this.#started.set(k, job.jobId);
    this.deps.log?.info({ ...target, jobId: job.jobId }, 'watched folder changed: indexing it');
  }

  async #find(open: OpenCollection, path: string): Promise<LibraryFolder> {
    const folder = (await open.library.folders()).find((f) => f.path === path);
    if (!folder) throw notInLibrary();
    return folder;
  }

  async #info(
    open: OpenCollection,
    folder: LibraryFolder,
    lastRun: JobRecord | undefined
  ): Promise<LibraryFolderInfo> {
    const pictures = await open.library.countPathsUnder(folder.path);
    const watch = folder.watched ? this.#watchers?.state(open.name, folder.path) : undefined;
    return {
      ...folder,
      pictures,
      ...(watch ? { watch } : {}),
      ...(lastRun ? { lastRun } : {})
    };
  }
}

/** Whether the folder's index runs look at `path` (a non-recursive one: its own files only). */
function covers(folder: LibraryFolder, path: string): boolean {
  if (path === folder.path) return true;
  if (!path.startsWith(`${folder.path}/`)) return false;
  return folder.recursive || dirname(path) === folder.path;
}

const notInLibrary = () => new NotFoundError('No such folder in the collection\u2019s Library');
