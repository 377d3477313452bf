import { constants, type Stats } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ForbiddenPathError, NotFoundError } from '../errors';

/**
 * The one answer for a path that is missing and for one outside the roots, so that a client
 * cannot tell which (and so learn what exists outside them); it names no root either.
 */
export const NOT_IN_ROOTS =
  'No such folder or file in the allowed image folders (LOOKALIKE_IMAGE_ROOTS)';

/** A regular file inside the roots, opened for reading; the caller closes `handle`. */
export interface OpenedFile {
  handle: FileHandle;
  /** Its real path. */
  path: string;
  /** fstat of the opened file: its size and dates belong to the bytes that will be read. */
  info: Stats;
}

/**
 * Read-only, and no following of a final symlink (a path swapped for a link between resolving and
 * opening fails with ELOOP), nor blocking on a FIFO swapped in (it is then refused as no file).
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** True when `path` is `folder` or inside it (both absolute and resolved; no file system use). */
export function isWithin(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The folders a request may index or read from. Every check works on real paths (symlinks
 * resolved), so neither `..`, an absolute path nor a symlink can lead outside them.
 */
export class ImageRoots {
  private constructor(readonly roots: readonly string[]) {}

  /** Resolves the configured roots; missing ones are dropped (and named in `missing`). */
  static async create(paths: readonly string[]): Promise<ImageRoots & { missing: string[] }> {
    const roots: string[] = [];
    const missing: string[] = [];
    for (const p of paths) {
      const real = await realpath(resolve(p)).catch(() => undefined);
      if (real) roots.push(real);
      else missing.push(p);
    }
    return Object.assign(new ImageRoots([...new Set(roots)]), { missing });
  }

  get configured(): boolean {
    return this.roots.length > 0;
  }

  /** True when `realPath` (already resolved) is one of the roots or inside one. */
  contains(realPath: string): boolean {
    return this.roots.some((root) => isWithin(root, realPath));
  }

  /**
   * The root holding `realPath` (already resolved); the innermost when roots nest, so that what
   * is kept beside a file (the trash) stays on its disk. Undefined when no root holds it.
   */
  rootOf(realPath: string): string | undefined {
    let found: string | undefined;
    for (const root of this.roots) {
      if (isWithin(root, realPath) && (found === undefined || root.length > found.length))
        found = root;
    }
    return found;
  }

  /**
   * The real path of `requested` (absolute, or relative to the working directory) if it exists and
   * lies inside a root; otherwise a 404, the same whether it is missing or outside (NOT_IN_ROOTS).
   */
  async resolve(requested: string): Promise<string> {
    if (requested.includes('\0')) throw new ForbiddenPathError('Path contains a NUL byte');
    if (!this.configured) {
      throw new ForbiddenPathError(
        'No image folders are allowed yet. Set LOOKALIKE_IMAGE_ROOTS to the folders Lookalike may ' +
          'index (separated by ":"), e.g. LOOKALIKE_IMAGE_ROOTS=/home/me/Pictures, and restart.'
      );
    }
    const real = await realpath(resolve(requested)).catch(() => undefined);
    if (real === undefined || !this.contains(real)) throw new NotFoundError(NOT_IN_ROOTS);
    return real;
  }

  /**
   * Opens `path` for reading if it is, now, a regular file inside the roots; undefined otherwise.
   * Every read of a picture goes through here, so a file or folder swapped for a symlink after
   * indexing, or a root no longer configured, is never read. The real path is checked, opened
   * without following a final symlink, and the opened file must be the one checked: same device
   * and inode as the real path, and (where /proc tells) the very path the kernel opened. A hard
   * link inside a root is a file there like any other: putting it there is the owner's choice.
   */
  async openFile(path: string): Promise<OpenedFile | undefined> {
    if (path.includes('\0')) return undefined;
    const real = await realpath(resolve(path)).catch(() => undefined);
    if (real === undefined || !this.contains(real)) return undefined;
    const handle = await open(real, OPEN_FLAGS).catch(() => undefined);
    if (!handle) return undefined;
    try {
      const info = await handle.stat();
      const named = await stat(real).catch(() => undefined);
      const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => real);
      if (info.isFile() && named?.dev === info.dev && named.ino === info.ino && opened === real) {
        return { handle, path: real, info };
      }
    } catch {
      // Treated like any file that cannot be read.
    }
    await handle.close();
    return undefined;
  }

  /** These roots plus one more (the CLI's explicit folder argument counts as allowed). */
  async with(extra: string): Promise<ImageRoots> {
    return ImageRoots.create([...this.roots, extra]);
  }

  /**
   * These roots, as they were resolved, plus a folder of the server's own that may not exist yet
   * (the uploads): its parent is resolved now, the folder itself is taken as named.
   */
  async withOwnFolder(folder: string): Promise<ImageRoots> {
    const parent = await realpath(dirname(resolve(folder)));
    return new ImageRoots([...this.roots, join(parent, basename(folder))]);
  }
}
