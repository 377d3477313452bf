import { randomBytes } from 'node:crypto';
import {
  link,
  lstat,
  mkdir,
  readFile,
  realpath,
  rename,
  unlink,
  writeFile
} from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { z } from 'zod';
import { NotFoundError, UserError } from '../errors';
import type { Collection } from './collection';
import type { Collections } from './collections';
import { isWithin, NOT_IN_ROOTS, type ImageRoots } from './image-roots';
import type { EncodeRunner, Ingest } from './ingest';
import { Mutex } from './mutex';

/**
 * The folder at the top of each image root that trashed files are moved into. The folder walker
 * never enters a folder of this name, so nothing in it is indexed again.
 */
export const TRASH_FOLDER = '.lookalike-trash';
/** Under TRASH_FOLDER: the files, each at its path relative to the root. */
const FILES = 'files';
/** Under TRASH_FOLDER: the record of where each file came from (TrashEntry[]). */
const MANIFEST = 'entries.json';

/** Most files one request may move. */
export const MAX_TRASH_BATCH = 100;

/** One trashed file: where it was, where it is now, for which collection. */
export interface TrashEntry {
  id: string;
  /** The collection it was removed from (and is restored into). */
  collection: string;
  /** Its path in the collection before it was trashed (restored there). */
  originalPath: string;
  /** Where it lies now, inside `<root>/.lookalike-trash/files/`. */
  trashPath: string;
  /** ISO 8601. */
  trashedAt: string;
  bytes: number;
  /** The picture it belonged to when it was trashed. */
  imageId: number;
}

/** What the trash needs of one collection. */
export interface TrashScope {
  name: string;
  collection: Pick<Collection, 'getPath' | 'getPaths' | 'removePaths'>;
  ingest: Pick<Ingest, 'examine' | 'add'>;
  /** Runs the decode and embed of a restored picture (the encode limiter). */
  encode?: EncodeRunner;
}

/** The place a restored file goes back to is taken by another file. */
export class TrashConflictError extends UserError {
  override name = 'TrashConflictError';
  override readonly status = 409;
  override readonly code = 'path_taken';
}

/** Another collection indexes a file asked to be trashed: moving it would break that one. */
export class PathInOtherCollectionError extends UserError {
  override name = 'PathInOtherCollectionError';
  override readonly status = 409;
  override readonly code = 'path_in_other_collection';
}

/** What the trash reads of a collection other than the one acted on. */
export interface OtherCollection {
  name: string;
  collection: Pick<Collection, 'getPaths'>;
}

/** Every collection of `collections` but `except`, opened (as any request to it would). */
export function otherCollectionsOf(collections: Pick<Collections, 'list' | 'get'>) {
  return async (except: string): Promise<OtherCollection[]> => {
    const others: OtherCollection[] = [];
    for (const { name } of await collections.list()) {
      if (name === except) continue;
      const open = await collections.get(name);
      if (open) others.push(open);
    }
    return others;
  };
}

/** A trashed file that cannot be read as a picture any more is not restored. */
export class TrashedNotAPictureError extends UserError {
  override name = 'TrashedNotAPictureError';
  override readonly status = 422;
  override readonly code = 'not_a_picture';
}

/** A root's trash record cannot be read: the files are untouched, the record needs a person. */
export class TrashRecordError extends UserError {
  override name = 'TrashRecordError';
  override readonly status = 503;
  override readonly code = 'trash_record_unreadable';
  constructor(
    /** The record's path. */
    readonly record: string
  ) {
    super(
      `${record} is not a list of trashed files of this folder: repair or move it away (the ` +
        'trashed files beside it are untouched)'
    );
  }
}

/**
 * Duplicates' reversible removal. A trashed file is renamed (same file system: atomic, no copy)
 * into `<its image root>/.lookalike-trash/files/<path relative to the root>`, recorded in
 * `.lookalike-trash/entries.json` beside it, and its path removed from the collection the usual
 * way (`Collection.removePaths`: a picture with other files stays, one without leaves the index).
 * Restoring renames it back if its place is free (else TrashConflictError) and adds it again
 * through `Ingest` (linked, when the collection still has the content). Nothing is ever deleted.
 *
 * Every operation checks, when it runs, that the file is a regular file (not a symlink) whose
 * folder's real path lies inside the roots, and moves it by that real path; trashing also needs
 * the collection to know the path, no other collection to index it, and the file to be on its
 * trash's file system. The trash folder itself must be a real folder of the root. A batch is all
 * or nothing: a failure after the checks puts back what moved. Restore adds the file before it
 * drops the record, and a failure in either puts the file back into the trash.
 */
export class Trash {
  /** One trash operation at a time: manifests are read, changed and written whole. */
  readonly #writes = new Mutex();

  constructor(
    private readonly deps: {
      roots: () => Promise<ImageRoots>;
      /** Every collection but `except`: a file one of them indexes is not moved. */
      otherCollections: (except: string) => Promise<OtherCollection[]>;
    }
  ) {}

  /**
   * Moves these files of the collection to the trash. Every path is checked before any moves:
   * one refused path (outside the roots, not a regular file, unknown to the collection, indexed
   * by another collection too) refuses the whole request and nothing moves.
   */
  trash(scope: TrashScope, paths: readonly string[]): Promise<TrashEntry[]> {
    return this.#writes.run(async () => {
      const roots = await this.deps.roots();
      const unique = [...new Set(paths)];
      const known = await scope.collection.getPaths(unique);
      const planned = [];
      for (const path of unique) {
        const record = known.get(path);
        if (!record) throw new NotFoundError(`${path} is not a file of this collection`);
        const file = await regularFileInRoots(roots, path);
        planned.push({ path, record, ...file });
      }
      await refuseSharedPaths(await this.deps.otherCollections(scope.name), planned);
      const moves: { path: string; real: string; root: string; entry: TrashEntry }[] = [];
      const targets = new Set<string>();
      for (const { path, record, real, root, size } of planned) {
        const trashFiles = await trashFolder(root, FILES);
        // A file on another file system than its trash (a mount inside the root) cannot be
        // renamed there: refused now, with the rest, rather than half-way through.
        if ((await lstat(real)).dev !== (await lstat(trashFiles)).dev)
          throw new UserError(
            `${path} is on another file system than ${trashFiles} (a mount inside the image ` +
              'folder), so it cannot be moved to the trash without copying; nothing was moved'
          );
        const target = await freeName(join(trashFiles, relative(root, real)), targets);
        targets.add(target);
        const entry: TrashEntry = {
          id: randomBytes(8).toString('hex'),
          collection: scope.name,
          originalPath: path,
          trashPath: target,
          trashedAt: new Date().toISOString(),
          bytes: size,
          imageId: record.imageId
        };
        moves.push({ path, real, root, entry });
      }
      const byRoot = new Map<string, typeof moves>();
      for (const move of moves) byRoot.set(move.root, [...(byRoot.get(move.root) ?? []), move]);
      // A record that cannot be read refuses the request before anything moves.
      for (const root of byRoot.keys()) await readManifest(roots, root);

      // From here every step is undone if a later one fails: all of the batch moves, or none.
      const moved: typeof moves = [];
      const recorded: string[] = [];
      try {
        for (const move of moves) {
          const target = move.entry.trashPath;
          await mkdir(dirname(target), { recursive: true });
          // A folder planted in the trash as a link elsewhere must not receive the file.
          if ((await realpath(dirname(target))) !== dirname(target))
            throw new NotFoundError(NOT_IN_ROOTS);
          await moveWithoutReplacing(move.real, target);
          moved.push(move);
        }
        for (const [root, group] of byRoot) {
          await updateManifest(roots, root, (list) => [...list, ...group.map((m) => m.entry)]);
          recorded.push(root);
        }
        await scope.collection.removePaths(moves.map((m) => m.path));
      } catch (error) {
        await rollBack(roots, moved, recorded);
        throw error;
      }
      return moves.map((m) => m.entry);
    });
  }

  /**
   * The collection's trashed files, newest first, from every root's trash. A root whose record
   * cannot be read is left out and named in `unreadable` (the other roots still answer).
   */
  async list(collection: string): Promise<{ entries: TrashEntry[]; unreadable: string[] }> {
    const roots = await this.deps.roots();
    const unreadable: string[] = [];
    const all = await Promise.all(
      roots.roots.map((root) =>
        readManifest(roots, root).catch((error: unknown) => {
          if (!(error instanceof TrashRecordError)) throw error;
          unreadable.push(error.record);
          return [];
        })
      )
    );
    const entries = all
      .flat()
      .filter((e) => e.collection === collection)
      .sort((a, b) => b.trashedAt.localeCompare(a.trashedAt) || a.id.localeCompare(b.id));
    return { entries, unreadable: unreadable.sort() };
  }

  /**
   * Moves a trashed file back to where it was and adds it to the collection again. 404 for an
   * entry this collection does not have; 409 when another file took its place meanwhile.
   */
  restore(scope: TrashScope, id: string): Promise<{ path: string; imageId: number }> {
    return this.#writes.run(async () => {
      const roots = await this.deps.roots();
      const found = await this.#find(roots, scope.name, id);
      const { entry, root } = found;
      const trashed = await regularFileInRoots(roots, entry.trashPath);
      if (dirname(trashed.real) !== dirname(entry.trashPath)) throw new NotFoundError(NOT_IN_ROOTS);
      const place = await realPlaceInRoots(roots, entry.originalPath);
      try {
        await moveWithoutReplacing(trashed.real, place);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        throw new TrashConflictError(
          `${entry.originalPath} is taken by another file now: move that one away first, then ` +
            'restore again (the trashed file stays where it is)'
        );
      }
      // Added first, recorded after: a failure in either leaves the file in the trash, listed.
      const backToTrash = () => moveWithoutReplacing(place, trashed.real).catch(() => undefined);
      let imageId: number;
      try {
        imageId = await addBack(roots, scope, place, entry);
      } catch (error) {
        await backToTrash();
        throw error;
      }
      try {
        await updateManifest(roots, root, (list) => list.filter((e) => e.id !== id));
      } catch (error) {
        await scope.collection.removePaths([entry.originalPath]).catch(() => undefined);
        await backToTrash();
        throw error;
      }
      return { path: entry.originalPath, imageId };
    });
  }

  /** The entry and its root; an unreadable record elsewhere matters only if it is not found. */
  async #find(roots: ImageRoots, collection: string, id: string) {
    let unreadable: TrashRecordError | undefined;
    for (const root of roots.roots) {
      const list = await readManifest(roots, root).catch((error: unknown) => {
        if (!(error instanceof TrashRecordError)) throw error;
        unreadable ??= error;
        return [];
      });
      const entry = list.find((e) => e.id === id && e.collection === collection);
      if (entry) return { entry, root };
    }
    // It may be in the record that cannot be read: say so rather than "no such entry".
    if (unreadable) throw unreadable;
    throw new NotFoundError(`No trashed file ${id} in this collection`);
  }
}

/**
 * Refuses the request when another collection indexes one of the files, by the path asked for
 * or by its real path: the file is theirs too, and trashing it would leave them a dead path.
 */
async function refuseSharedPaths(
  others: readonly OtherCollection[],
  planned: readonly { path: string; real: string }[]
): Promise<void> {
  const asked = [...new Set(planned.flatMap(({ path, real }) => [path, real]))];
  const holders = new Map<string, string[]>();
  for (const other of others) {
    for (const path of (await other.collection.getPaths(asked)).keys()) {
      holders.set(path, [...(holders.get(path) ?? []), other.name]);
    }
  }
  const shared = planned.flatMap(({ path, real }) => {
    const names = [...new Set([...(holders.get(path) ?? []), ...(holders.get(real) ?? [])])];
    return names.length > 0 ? [`${path} (${names.map((n) => `"${n}"`).join(', ')})`] : [];
  });
  if (shared.length > 0)
    throw new PathInOtherCollectionError(
      `Also indexed by another collection, so not moved (nothing was): ${shared.join('; ')}. ` +
        'Remove it from those collections first, or leave the file where it is'
    );
}

/**
 * `path` checked now: a regular file itself (a final symlink is refused, not followed) in a
 * folder whose real path lies inside a root. Returns its real path, the innermost root holding
 * it and its size.
 */
async function regularFileInRoots(roots: ImageRoots, path: string) {
  if (path.includes('\0')) throw new NotFoundError(NOT_IN_ROOTS);
  const folder = await realpath(dirname(path)).catch(() => undefined);
  const info = await lstat(path).catch(() => undefined);
  if (folder === undefined || !info?.isFile()) throw new NotFoundError(NOT_IN_ROOTS);
  const real = join(folder, basename(path));
  const root = roots.rootOf(real);
  if (!root) throw new NotFoundError(NOT_IN_ROOTS);
  return { real, root, size: info.size };
}

/** The real place to restore `path` to: its folder (made if gone) must be real and in the roots. */
async function realPlaceInRoots(roots: ImageRoots, path: string): Promise<string> {
  let existing = dirname(path);
  while ((await lstat(existing).catch(() => undefined)) === undefined) existing = dirname(existing);
  const real = await realpath(existing).catch(() => undefined);
  if (real === undefined || !roots.contains(real)) throw new NotFoundError(NOT_IN_ROOTS);
  const folder = join(real, relative(existing, dirname(path)));
  await mkdir(folder, { recursive: true });
  if ((await realpath(folder)) !== folder || !roots.contains(folder))
    throw new NotFoundError(NOT_IN_ROOTS);
  return join(folder, basename(path));
}

/** `<root>/.lookalike-trash/<part>`, made if missing; refused if anything on the way is a link. */
async function trashFolder(root: string, part: string): Promise<string> {
  const folder = join(root, TRASH_FOLDER, part);
  await mkdir(folder, { recursive: true });
  if ((await realpath(folder)) !== folder) throw new NotFoundError(NOT_IN_ROOTS);
  return folder;
}

/**
 * Undoes a failed trashing: the moved files go back (last first) and the roots' records lose the
 * batch's entries. A file that cannot go back is named in the error, so nobody is left guessing.
 */
async function rollBack(
  roots: ImageRoots,
  moved: readonly { real: string; root: string; entry: TrashEntry }[],
  recorded: readonly string[]
): Promise<void> {
  const ids = new Set(moved.map((m) => m.entry.id));
  const stuck: string[] = [];
  for (const { real, entry } of [...moved].reverse()) {
    await moveWithoutReplacing(entry.trashPath, real).catch(() => stuck.push(entry.trashPath));
  }
  for (const root of recorded) {
    await updateManifest(roots, root, (list) =>
      list.filter((e) => !ids.has(e.id) || stuck.includes(e.trashPath))
    ).catch(() => undefined);
  }
  if (stuck.length > 0)
    throw new Error(`Trashing failed and these files could not be put back: ${stuck.join(', ')}`);
}

/** `path`, or `name (2).ext`, `name (3).ext`, … : the first name nothing holds (nor `taken`). */
async function freeName(path: string, taken: ReadonlySet<string>): Promise<string> {
  const ext = extname(path);
  const stem = path.slice(0, path.length - ext.length);
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? path : `${stem} (${n})${ext}`;
    if (!taken.has(candidate) && (await lstat(candidate).catch(() => undefined)) === undefined)
      return candidate;
  }
}

/**
 * Renames `from` to `to` unless `to` exists (EEXIST): a hard link then an unlink, which cannot
 * replace a file that appeared in between as a plain rename would. On a file system without
 * hard links, a check then a rename. Across file systems (EXDEV) nothing moves: no copies.
 */
async function moveWithoutReplacing(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EXDEV')
      throw new UserError(
        `${from} cannot be moved to ${to}: another file system (nothing was moved or copied)`
      );
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP')
      throw error;
    if ((await lstat(to).catch(() => undefined)) !== undefined)
      throw Object.assign(new Error(`${to} exists`), { code: 'EEXIST' });
    await rename(from, to);
    return;
  }
  await unlink(from);
}

const TrashEntrySchema = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  collection: z.string().min(1),
  originalPath: z.string().min(1),
  trashPath: z.string().min(1),
  trashedAt: z.string(),
  bytes: z.number().int().nonnegative(),
  imageId: z.number().int()
});

/**
 * A root's record, every entry checked: the record is a file anyone with write access to the
 * root can edit, so an entry is trusted only to name a file under this root's trash and a place
 * inside the roots (else restore could move any file of the roots). A record with one entry that
 * is not so is refused whole: rewriting it would lose where its files came from.
 */
async function readManifest(roots: ImageRoots, root: string): Promise<TrashEntry[]> {
  const path = join(root, TRASH_FOLDER, MANIFEST);
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile()) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    parsed = error;
  }
  const entries = z.array(TrashEntrySchema).safeParse(parsed);
  const files = join(root, TRASH_FOLDER, FILES);
  const valid =
    entries.success &&
    entries.data.every(
      (e) =>
        isAbsolute(e.trashPath) &&
        normalize(e.trashPath) === e.trashPath &&
        isWithin(files, e.trashPath) &&
        e.trashPath !== files &&
        isAbsolute(e.originalPath) &&
        normalize(e.originalPath) === e.originalPath &&
        roots.contains(e.originalPath) &&
        !e.originalPath.split(sep).includes(TRASH_FOLDER)
    );
  if (!valid) throw new TrashRecordError(path);
  return entries.data;
}

/** Rewrites a root's manifest atomically (a temporary file renamed over it). */
async function updateManifest(
  roots: ImageRoots,
  root: string,
  change: (list: TrashEntry[]) => TrashEntry[]
): Promise<void> {
  const folder = await trashFolder(root, '');
  const next = change(await readManifest(roots, root));
  const temp = join(folder, `${MANIFEST}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(temp, `${JSON.stringify(next, null, 2)}\n`);
  await rename(temp, join(folder, MANIFEST));
}

/** The restored file, read once, added through Ingest (linked if the content is still known). */
async function addBack(
  roots: ImageRoots,
  scope: TrashScope,
  place: string,
  entry: TrashEntry
): Promise<number> {
  const opened = await roots.openFile(place);
  if (!opened) throw new NotFoundError(NOT_IN_ROOTS);
  let bytes: Buffer;
  try {
    bytes = await opened.handle.readFile();
  } finally {
    await opened.handle.close();
  }
  const { size, mtimeMs } = opened.info;
  const file = { path: entry.originalPath, size, mtimeMs };
  for (let attempt = 0; attempt < 2; attempt++) {
    const [content] = await scope.ingest.examine([bytes], { encode: scope.encode });
    if (!content || content.kind === 'rejected')
      throw new TrashedNotAPictureError(
        `${entry.trashPath} is no longer a picture Lookalike can read, so it was not restored ` +
          '(it stays in the trash)'
      );
    const [outcome] = await scope.ingest.add([{ file, content }]);
    if (outcome && outcome.kind !== 'stale') return outcome.imageId;
  }
  throw new Error(
    'The collection changed while the file was restored; it stays in the trash: restore it again'
  );
}
