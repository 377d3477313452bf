import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { walkFolder } from './folder-walker';
import type { ImageRoots } from './image-roots';

/** A folder to watch: a Library folder of a collection (a real path). */
export interface WatchTarget {
  collection: string;
  path: string;
  recursive: boolean;
}

/** How a watched folder is watched now, as the Library reports it. */
export type WatchState =
  | { mode: 'events' }
  | { mode: 'polling'; everyMs: number; reason?: string }
  | { mode: 'refused'; reason: string }
  /** The folder is gone from disk: watched again, with a catch-up run, once it is back. */
  | { mode: 'missing'; reason: string };

export interface FolderWatchersOptions {
  roots: ImageRoots;
  /** Poll every this many ms instead of file-system events (network shares); 0: events. */
  pollMs: number;
  /** At most this many folders are watched (the rest are refused, and say so). */
  maxFolders: number;
  /** Directories per folder that get an event watch; a larger tree is polled instead. */
  maxDirectories: number;
  /** How often each watched folder is checked to still be there (and a missing one to be back). */
  presenceCheckMs?: number;
  /** Quiet time after the last change before the folder's changes are handed on. */
  debounceMs?: number;
  /** However busy the folder, its changes are handed on at least this often. */
  maxWaitMs?: number;
  /** Called when a folder's changes settled, and once when its watch starts (catch-up). */
  onChange: (target: WatchTarget) => void;
  log?: Logger;
}

export const DEFAULT_DEBOUNCE_MS = 1000;
export const DEFAULT_PRESENCE_CHECK_MS = 5000;
/**
 * A watched folder that is gone is not taken out of the collection: a network share may only be
 * unmounted, a disk unplugged. Its pictures stay until the folder is removed from the Library.
 */
export const MISSING_REASON =
  'the folder is gone from disk (deleted, moved, or a share or disk not mounted): its pictures ' +
  'are kept, and watching resumes when it is back; remove the folder to forget them';
const DEFAULT_MAX_WAIT_MS = 10_000;
/** How often a folder whose file-system events failed is polled instead. */
export const FALLBACK_POLL_MS = 30_000;
/** Deeper folders are not watched by events (the index run still walks them). */
const MAX_DEPTH = 32;

const key = (t: Pick<WatchTarget, 'collection' | 'path'>) => `${t.collection}\0${t.path}`;

/** Names the watch ignores: dot files and folders (.git, .thumbnails, editors' temp files). */
const ignored = (name: string) => name.startsWith('.');

/**
 * The server's watched folders. Each is watched by file-system events (one non-recursive watch
 * per directory, so the cost is one inotify watch per directory, never per file; dot folders and
 * symlinks are not followed), or polled (a cheap walk of names, sizes and dates compared with the
 * last one) where events are not wanted (`pollMs`, network shares) or failed. Changes are
 * debounced and handed to `onChange`, which starts the folder's index run: the one ingest path
 * picks up new, changed and deleted files. A folder outside the image roots is refused.
 */
export class FolderWatchers {
  readonly #watches = new Map<string, FolderWatch>();
  #refused = new Map<string, WatchState>();
  #refusedBefore = new Map<string, WatchState>();
  /** Wanted folders that are gone from disk, by key (see MISSING_REASON). */
  readonly #missing = new Map<string, WatchTarget>();
  /** What the last sync asked for: a folder that is back is started by syncing it again. */
  #targets: readonly WatchTarget[] = [];
  #closed = false;
  #syncing: Promise<unknown> = Promise.resolve();
  #presence: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: FolderWatchersOptions) {}

  /**
   * Watches exactly these folders: new ones start (with a catch-up run), gone ones stop. Calls
   * run one after another, so two syncs cannot both start the same folder.
   */
  sync(targets: readonly WatchTarget[]): Promise<void> {
    const next = this.#syncing.then(() => this.#sync(targets));
    this.#syncing = next.catch(() => undefined);
    return next;
  }

  async #sync(targets: readonly WatchTarget[]): Promise<void> {
    if (this.#closed) return;
    this.#targets = targets;
    this.#startPresenceChecks();
    const wanted = new Map(targets.map((t) => [key(t), t]));
    for (const k of this.#missing.keys()) if (!wanted.has(k)) this.#missing.delete(k);
    for (const [k, watch] of this.#watches) {
      const target = wanted.get(k);
      if (!target || target.recursive !== watch.target.recursive) {
        this.#watches.delete(k);
        watch.close();
      }
    }
    // Reported once, not at every sync.
    this.#refusedBefore = this.#refused;
    this.#refused = new Map();
    for (const [k, target] of wanted) {
      if (this.#watches.has(k)) continue;
      if (!(await exists(target.path))) {
        this.#markMissing(target);
        continue;
      }
      this.#missing.delete(k);
      const reason = await this.#outsideRoots(target.path);
      if (this.#closed) return;
      if (reason) {
        this.#refuse(target, reason);
        continue;
      }
      if (this.#watches.size >= this.options.maxFolders) {
        this.#refuse(
          target,
          `more than ${this.options.maxFolders} watched folders (LOOKALIKE_WATCH_MAX_FOLDERS)`
        );
        continue;
      }
      const watch = new FolderWatch(target, {
        ...this.options,
        // A folder that is gone starts no run (it would fail): it is reported missing instead.
        onChange: (changed) =>
          void exists(changed.path).then((there) => {
            if (this.#watches.get(k) !== watch) return;
            if (there) this.options.onChange(changed);
            else this.#gone(k, watch);
          })
      });
      this.#watches.set(k, watch);
      await watch.start();
    }
  }

  /** How the folder is watched; undefined when it is not (not asked to, or stopped). */
  state(collection: string, path: string): WatchState | undefined {
    const k = key({ collection, path });
    if (this.#missing.has(k)) return { mode: 'missing', reason: MISSING_REASON };
    return this.#watches.get(k)?.state ?? this.#refused.get(k);
  }

  /** Directory watches held now, all folders together (for tests and the log). */
  get directoryWatches(): number {
    let n = 0;
    for (const watch of this.#watches.values()) n += watch.directories;
    return n;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#presence);
    for (const watch of this.#watches.values()) watch.close();
    this.#watches.clear();
    this.#missing.clear();
  }

  /**
   * One stat per watched folder every presenceCheckMs: a folder deleted (or a share unmounted)
   * is reported missing rather than left "watching" with runs that fail, and a missing folder
   * that is back is synced again (checked against the roots, watched, a catch-up run).
   */
  #startPresenceChecks() {
    if (this.#presence) return;
    const every = this.options.presenceCheckMs ?? DEFAULT_PRESENCE_CHECK_MS;
    this.#presence = setInterval(() => void this.#checkPresence(), every);
    this.#presence.unref();
  }

  async #checkPresence(): Promise<void> {
    for (const [k, watch] of [...this.#watches]) {
      if (!(await exists(watch.target.path)) && this.#watches.get(k) === watch)
        this.#gone(k, watch);
    }
    let back = false;
    for (const target of this.#missing.values()) if (await exists(target.path)) back = true;
    if (back && !this.#closed) {
      this.options.log?.info('a missing watched folder is back: watching it again');
      await this.sync(this.#targets).catch(() => undefined);
    }
  }

  #gone(k: string, watch: FolderWatch) {
    this.#watches.delete(k);
    watch.close();
    this.#markMissing(watch.target);
  }

  #markMissing(target: WatchTarget) {
    const k = key(target);
    if (this.#missing.has(k)) return;
    this.#missing.set(k, target);
    this.options.log?.warn(
      { collection: target.collection, path: target.path },
      'watched folder missing: its pictures are kept until it is back or removed'
    );
  }
  #refuse(target: WatchTarget, reason: string) {
    const k = key(target);
    this.#refused.set(k, { mode: 'refused', reason });
    const before = this.#refusedBefore.get(k);
    if (before?.mode === 'refused' && before.reason === reason) return;
    this.options.log?.warn(
      { collection: target.collection, path: target.path, reason },
      'watched folder refused'
    );
  }

  /** Why the folder cannot be watched: not a folder inside the roots (checked on real paths). */
  async #outsideRoots(path: string): Promise<string | undefined> {
    const real = await this.options.roots.resolve(path).catch(() => undefined);
    if (real !== path) return 'not a folder inside the image roots (LOOKALIKE_IMAGE_ROOTS)';
    const info = await stat(real).catch(() => undefined);
    return info?.isDirectory() ? undefined : 'not a folder';
  }
}

/** Whether the path names something on disk now (what a deleted folder or a lost mount is not). */
async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** One watched folder: directory watches or a poll, and the debounce in front of onChange. */
class FolderWatch {
  state: WatchState = { mode: 'events' };
  readonly #dirs = new Map<string, FSWatcher>();
  #closed = false;
  #debounce: ReturnType<typeof setTimeout> | undefined;
  #firstChangeAt: number | undefined;
  #poll: ReturnType<typeof setTimeout> | undefined;
  #fingerprint: string | undefined;

  constructor(
    readonly target: WatchTarget,
    private readonly options: FolderWatchersOptions
  ) {}

  get directories(): number {
    return this.#dirs.size;
  }

  async start(): Promise<void> {
    if (this.options.pollMs > 0) this.#startPolling(this.options.pollMs);
    else {
      try {
        await this.#watchTree(this.target.path, 0);
      } catch (error) {
        this.#fallBack(error instanceof Error ? error.message : String(error));
      }
    }
    // Files changed while nobody watched (the server was down, the watch just began).
    this.#changed();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearTimeout(this.#poll);
    for (const watcher of this.#dirs.values()) watcher.close();
    this.#dirs.clear();
  }

  /** Watches `dir` and, for a recursive folder, its subfolders (no dot folders, no symlinks). */
  async #watchTree(dir: string, depth: number): Promise<void> {
    const pending = [{ dir, depth }];
    while (pending.length > 0 && !this.#closed && this.state.mode === 'events') {
      const next = pending.pop()!;
      if (this.#dirs.has(next.dir)) continue;
      if (this.#dirs.size >= this.options.maxDirectories)
        throw new Error(
          `more than ${this.options.maxDirectories} folders to watch (LOOKALIKE_WATCH_MAX_DIRS)`
        );
      this.#watchDirectory(next.dir);
      if (!this.target.recursive || next.depth >= MAX_DEPTH) continue;
      const entries = await readdir(next.dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        // A Dirent of a symlink is no directory: links are not followed out of the folder.
        if (entry.isDirectory() && !ignored(entry.name))
          pending.push({ dir: join(next.dir, entry.name), depth: next.depth + 1 });
      }
    }
  }

  #watchDirectory(dir: string) {
    const watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (typeof name === 'string' && ignored(name)) return;
      this.#changed();
      if (this.target.recursive && typeof name === 'string') void this.#follow(join(dir, name));
    });
    watcher.on('error', () => {
      // The directory went away (or cannot be watched any more).
      watcher.close();
      this.#dirs.delete(dir);
      if (dir === this.target.path && !this.#closed) this.#fallBack('the folder cannot be watched');
      else this.#changed();
    });
    this.#dirs.set(dir, watcher);
  }

  /** A name that changed inside a watched directory: a new subfolder gets watched too. */
  async #follow(path: string) {
    const info = await lstat(path).catch(() => undefined);
    if (this.#closed || this.state.mode !== 'events') return;
    if (!info) {
      for (const [dir, watcher] of this.#dirs)
        if (dir === path || dir.startsWith(`${path}/`)) {
          watcher.close();
          this.#dirs.delete(dir);
        }
      return;
    }
    if (!info.isDirectory() || this.#dirs.has(path)) return;
    const depth = path.slice(this.target.path.length).split('/').length - 1;
    await this.#watchTree(path, depth).catch((error: unknown) =>
      this.#fallBack(error instanceof Error ? error.message : String(error))
    );
  }

  /** Events cannot be used for this folder: poll it instead. */
  #fallBack(reason: string) {
    if (this.#closed || this.state.mode === 'polling') return;
    for (const watcher of this.#dirs.values()) watcher.close();
    this.#dirs.clear();
    this.options.log?.warn(
      { collection: this.target.collection, path: this.target.path, reason },
      'watched folder polled: file-system events cannot be used'
    );
    this.#startPolling(FALLBACK_POLL_MS, reason);
    this.#changed();
  }

  #startPolling(everyMs: number, reason?: string) {
    this.state = { mode: 'polling', everyMs, ...(reason ? { reason } : {}) };
    const tick = async () => {
      const fingerprint = await this.#walkFingerprint().catch(() => 'unreadable');
      if (this.#closed) return;
      if (this.#fingerprint !== undefined && fingerprint !== this.#fingerprint) this.#changed();
      this.#fingerprint = fingerprint;
      this.#poll = setTimeout(() => void tick(), everyMs);
      this.#poll.unref();
    };
    void tick();
  }

  /** Names, sizes and dates of what an index run would look at, hashed: equal means unchanged. */
  async #walkFingerprint(): Promise<string> {
    const hash = createHash('sha256');
    for await (const entry of walkFolder(this.target.path, {
      recursive: this.target.recursive,
      roots: this.options.roots
    })) {
      if (this.#closed) break;
      hash.update(
        entry.kind === 'file'
          ? `${entry.path}\0${entry.size}\0${entry.mtimeMs}\n`
          : `${entry.kind}\0${entry.path}\n`
      );
    }
    return hash.digest('hex');
  }

  /** Debounced: onChange once the folder is quiet for debounceMs, or maxWaitMs after the first. */
  #changed() {
    if (this.#closed) return;
    const now = Date.now();
    this.#firstChangeAt ??= now;
    const debounceMs = this.options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    const maxWaitMs = this.options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    const wait = Math.max(0, Math.min(debounceMs, this.#firstChangeAt + maxWaitMs - now));
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.#firstChangeAt = undefined;
      if (!this.#closed) this.options.onChange(this.target);
    }, wait);
    this.#debounce.unref();
  }
}
