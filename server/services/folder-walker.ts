import { readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { ImageRoots } from './image-roots';
import { TRASH_FOLDER } from './trash';

export type WalkEntry =
  | { kind: 'file'; path: string; size: number; mtimeMs: number }
  | { kind: 'skipped'; path: string; reason: string }
  | { kind: 'failed'; path: string; reason: string };

/** Names that are not valid UTF-8 cannot be stored or opened again through a JS string. */
function decodeName(name: Buffer): string | undefined {
  const text = name.toString('utf8');
  return Buffer.from(text, 'utf8').equals(name) ? text : undefined;
}

/**
 * Lists the files under `start` (a real path inside the roots), depth first and sorted, following
 * symlinks only while they stay inside the roots, and visiting each real directory once (so
 * symlink loops end). Problems become entries, never exceptions.
 */
export async function* walkFolder(
  start: string,
  options: { recursive: boolean; roots: ImageRoots; signal?: AbortSignal }
): AsyncGenerator<WalkEntry> {
  if (start.split(sep).includes(TRASH_FOLDER)) {
    yield {
      kind: 'skipped',
      path: start,
      reason: 'In the trash: restore it from the Duplicates screen to index it again'
    };
    return;
  }
  const visited = new Set<string>();
  const pending: string[] = [start];
  const startInfo = await stat(start);
  if (startInfo.isFile()) {
    yield { kind: 'file', path: start, size: startInfo.size, mtimeMs: startInfo.mtimeMs };
    return;
  }
  while (pending.length > 0) {
    if (options.signal?.aborted) return;
    const dir = pending.pop()!;
    const real = await realpath(dir).catch(() => undefined);
    if (real === undefined || visited.has(real)) continue;
    visited.add(real);
    let names: Buffer[];
    try {
      names = await readdir(dir, { encoding: 'buffer' });
    } catch (error) {
      yield {
        kind: 'failed',
        path: dir,
        reason: `Cannot read folder (${(error as NodeJS.ErrnoException).code ?? error})`
      };
      continue;
    }
    names.sort(Buffer.compare);
    const subdirs: string[] = [];
    for (const raw of names) {
      const name = decodeName(raw);
      if (name === undefined) {
        yield {
          kind: 'failed',
          path: join(dir, raw.toString('utf8')),
          reason: 'File name is not valid UTF-8; rename it to index it'
        };
        continue;
      }
      // Files moved to the trash (Duplicates) are out of the collection until restored.
      if (name === TRASH_FOLDER) continue;
      const path = join(dir, name);
      let info;
      try {
        info = await stat(path); // follows symlinks
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        yield code === 'ENOENT'
          ? { kind: 'skipped', path, reason: 'Broken symlink or vanished file' }
          : code === 'ELOOP'
            ? { kind: 'skipped', path, reason: 'Symlink loop' }
            : { kind: 'failed', path, reason: `Cannot read (${code ?? String(error)})` };
        continue;
      }
      const target = await realpath(path).catch(() => path);
      if (!options.roots.contains(target)) {
        yield { kind: 'skipped', path, reason: 'Symlink leads outside the allowed image folders' };
        continue;
      }
      // A symlink into the trash would index trashed files again under another name.
      if (target.split(sep).includes(TRASH_FOLDER)) {
        yield { kind: 'skipped', path, reason: 'Symlink leads into the trash' };
        continue;
      }
      if (info.isDirectory()) {
        if (options.recursive) subdirs.push(path);
      } else if (info.isFile()) {
        yield { kind: 'file', path, size: info.size, mtimeMs: info.mtimeMs };
      } else {
        yield { kind: 'skipped', path, reason: 'Not a regular file' };
      }
    }
    // Reverse so popping visits subfolders in name order.
    pending.push(...subdirs.reverse());
  }
}

/**
 * How many entries `walkFolder` yields for the same folder: a second, cheap walk (names and stat
 * only) so progress can be shown as a fraction while the real walk reads and embeds files.
 * Resolves undefined when aborted.
 */
export async function countEntries(
  start: string,
  options: { recursive: boolean; roots: ImageRoots; signal?: AbortSignal }
): Promise<number | undefined> {
  let total = 0;
  for await (const entry of walkFolder(start, options)) {
    // The walk checks the signal once per folder; a flat folder of 100k files must stop sooner.
    if (options.signal?.aborted) return undefined;
    void entry;
    total++;
  }
  return options.signal?.aborted ? undefined : total;
}
