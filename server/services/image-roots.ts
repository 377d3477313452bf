import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ForbiddenPathError, NotFoundError } from '../errors';

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
    return this.roots.some((root) => {
      const rel = relative(root, realPath);
      return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
    });
  }

  /**
   * The real path of `requested` (absolute, or relative to the working directory) if it exists and
   * lies inside a root; otherwise a 403 that says how to allow it.
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
    if (real === undefined) throw new NotFoundError(`No such folder or file: ${requested}`);
    if (!this.contains(real)) {
      throw new ForbiddenPathError(
        `${requested} is outside the allowed image folders (LOOKALIKE_IMAGE_ROOTS: ${this.roots.join(':')})`
      );
    }
    return real;
  }

  /** These roots plus one more (the CLI's explicit folder argument counts as allowed). */
  async with(extra: string): Promise<ImageRoots> {
    return ImageRoots.create([...this.roots, extra]);
  }
}
