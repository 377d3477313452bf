import { dirname } from 'node:path';
import type { Embedder } from '../embedding/embedder';
import { ImageRejectedError, type ImageDecoder } from '../embedding/image-decoder';
import type { IndexCounters } from '../stores/catalog';
import { retryWhileUnavailable } from '../stores/availability';
import type { Collection } from './collection';
import { walkFolder, type WalkEntry } from './folder-walker';
import type { ImageRoots } from './image-roots';
import { Ingest, type IngestEntry } from './ingest';

export interface IndexFolderOptions {
  /** Real path of the folder (or single file), already checked against the roots. */
  root: string;
  recursive: boolean;
  roots: ImageRoots;
  collection: Collection;
  decoder: ImageDecoder;
  embedder: Pick<Embedder, 'embedPixels' | 'manifest'>;
  batchSize: number;
  /** File bytes read but not yet decoded, at most (READ_AHEAD_BYTES unless set). */
  readAheadBytes?: number;
  signal?: AbortSignal;
  /** Called after every change of the counters (the caller throttles). */
  onProgress?: (counters: IndexCounters) => void;
  onError?: (error: { path: string; reason: string }) => void;
  /** A store is unreachable: the job waits (retrying with backoff) until it is back. */
  onStoreWait?: (error: unknown) => void;
  onStoreResume?: () => void;
}

type Prepared =
  | { kind: 'unchanged'; path: string }
  | { kind: 'content'; entry: IngestEntry }
  | { kind: 'skipped' | 'failed'; path: string; reason: string };

/**
 * File bytes held at once between reading and decoding: a few large files cannot take memory a
 * file count would not notice. A batch whose files are larger together is read and examined in
 * parts that fit (a single file larger than this alone).
 */
export const READ_AHEAD_BYTES = 256 * 1024 * 1024;

/** Reasons that mean "not an image" (counted as skipped) rather than "a broken image" (failed). */
const NOT_AN_IMAGE = new Set(['unsupported-format', 'empty']);

/**
 * Indexes a folder incrementally, by content: unchanged files (size + mtime) are skipped, the
 * rest go through the Ingest use case — files whose bytes the collection already has are linked
 * to that entry (copies, moves, renames — no re-embedding), new content is decoded and embedded
 * in batches. Per batch: one path look-up, each file read once, one hash look-up to examine and
 * one to add. Reading and decoding the next batch overlaps inference on the current one. Entries
 * a finished scan did not see are removed. Returns whether the scan completed (not cancelled).
 */
export async function indexFolder(options: IndexFolderOptions): Promise<boolean> {
  const { collection, signal } = options;
  const counters: IndexCounters = {
    seen: 0,
    indexed: 0,
    unchanged: 0,
    skipped: 0,
    failed: 0,
    removed: 0
  };
  const seen = new Set<string>();
  const report = () => options.onProgress?.({ ...counters });
  const problem = (kind: 'skipped' | 'failed', path: string, reason: string) => {
    counters[kind]++;
    options.onError?.({ path, reason });
  };

  const walker = walkFolder(options.root, {
    recursive: options.recursive,
    roots: options.roots,
    signal
  });
  const nextChunk = async (): Promise<WalkEntry[]> => {
    const chunk: WalkEntry[] = [];
    while (chunk.length < options.batchSize) {
      const { value, done } = await walker.next();
      if (done) break;
      chunk.push(value);
    }
    return chunk;
  };
  // While a store is down, wait and retry rather than fail files or the job.
  let storeFailed = false;
  const whileUnavailable = <T>(operation: () => Promise<T>) =>
    retryWhileUnavailable(operation, {
      signal,
      onWait: (error) => {
        storeFailed = true;
        options.onStoreWait?.(error);
      },
      onResume: () => options.onStoreResume?.()
    });
  const ingest = new Ingest(options);
  const readAheadBytes = options.readAheadBytes ?? READ_AHEAD_BYTES;
  const prepareChunk = async () => {
    const chunk = await nextChunk();
    return {
      size: chunk.length,
      prepared: await whileUnavailable(() => prepare(chunk, options, ingest, readAheadBytes))
    };
  };

  let pending = prepareChunk();
  for (;;) {
    const { size, prepared } = await pending;
    if (size === 0) break;
    if (signal?.aborted) break;
    pending = prepareChunk(); // overlaps with the commit below
    for (const p of prepared) {
      const path = p.kind === 'content' ? p.entry.file.path : p.path;
      seen.add(path);
      counters.seen++;
      if (p.kind === 'skipped' || p.kind === 'failed') problem(p.kind, p.path, p.reason);
      if (p.kind === 'unchanged') counters.unchanged++;
    }
    await whileUnavailable(async () => {
      // A write cut short by an outage may have left rows pending: put them in the index first.
      if (storeFailed) await collection.reconcile();
      await commit(prepared, ingest, counters, problem);
    });
    report();
  }
  // Let a prefetch still in flight finish, so no file handle outlives the job.
  await pending.catch(() => undefined);
  if (signal?.aborted) return false;

  const known = await whileUnavailable(() => collection.pathsUnder(options.root));
  const gone = known
    .map((p) => p.path)
    .filter((p) => !seen.has(p) && (options.recursive || dirname(p) === options.root));
  counters.removed += await whileUnavailable(() => collection.removePaths(gone));
  report();
  return true;
}

/**
 * A batch up to the point of embedding: unchanged files (one path look-up) set aside, the others
 * read through the roots check and examined by the Ingest (hashed, looked up, new content
 * decoded), in parts whose bytes fit the read-ahead budget.
 */
async function prepare(
  chunk: readonly WalkEntry[],
  options: IndexFolderOptions,
  ingest: Ingest,
  readAheadBytes: number
): Promise<Prepared[]> {
  const files = chunk.filter((e) => e.kind === 'file');
  const known = await options.collection.getPaths(files.map((f) => f.path));
  const prepared: Prepared[] = [];
  const changed: { at: number; file: Extract<WalkEntry, { kind: 'file' }> }[] = [];
  for (const entry of chunk) {
    if (entry.kind !== 'file') {
      prepared.push(entry);
      continue;
    }
    const existing = known.get(entry.path);
    if (existing && existing.size === entry.size && existing.mtimeMs === entry.mtimeMs) {
      prepared.push({ kind: 'unchanged', path: entry.path });
    } else {
      changed.push({ at: prepared.length, file: entry });
      prepared.push({ kind: 'failed', path: entry.path, reason: 'not read' }); // replaced below
    }
  }
  for (const part of partsWithin(changed, readAheadBytes)) {
    const read = await Promise.all(part.map(({ file }) => readFile(file, options)));
    const ok = read.filter((r) => r.kind === 'read');
    const contents = await ingest.examine(ok.map((r) => r.bytes));
    const byPath = new Map(ok.map((r, i) => [r.file.path, { ...r, content: contents[i]! }]));
    part.forEach(({ at, file }, i) => {
      const outcome = read[i]!;
      if (outcome.kind !== 'read') {
        prepared[at] = outcome;
        return;
      }
      const { bytes, content } = byPath.get(file.path)!;
      if (content.kind === 'rejected') {
        prepared[at] = rejected(file.path, content.error);
        return;
      }
      prepared[at] = {
        kind: 'content',
        entry: {
          file: { path: file.path, size: bytes.length, mtimeMs: file.mtimeMs },
          content,
          previousImageId: known.get(file.path)?.imageId
        }
      };
    });
  }
  return prepared;
}

/** Consecutive runs of `items` whose walk sizes add up to at most `budget` (or one item). */
function* partsWithin<T extends { file: { size: number } }>(
  items: readonly T[],
  budget: number
): Generator<T[]> {
  let part: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (part.length > 0 && bytes + item.file.size > budget) {
      yield part;
      part = [];
      bytes = 0;
    }
    part.push(item);
    bytes += item.file.size;
  }
  if (part.length > 0) yield part;
}

/** A file's bytes, read once, through the roots check. */
async function readFile(
  entry: Extract<WalkEntry, { kind: 'file' }>,
  options: IndexFolderOptions
): Promise<
  | { kind: 'read'; file: Extract<WalkEntry, { kind: 'file' }>; bytes: Uint8Array }
  | Extract<Prepared, { kind: 'skipped' | 'failed' }>
> {
  const { path } = entry;
  try {
    // Checked again as it is opened: the file may have been swapped for a link since the walk.
    const opened = await options.roots.openFile(path);
    if (!opened) {
      return { kind: 'failed', path, reason: 'No longer a file inside the image folders' };
    }
    const bytes = await options.decoder.read(opened.handle).finally(() => opened.handle.close());
    return { kind: 'read', file: entry, bytes };
  } catch (error) {
    return rejected(path, error);
  }
}

/** A file the decoder refused counts as skipped when it is not an image at all, else failed. */
function rejected(path: string, error: unknown): Extract<Prepared, { kind: 'skipped' | 'failed' }> {
  if (error instanceof ImageRejectedError) {
    return {
      kind: NOT_AN_IMAGE.has(error.reason) ? 'skipped' : 'failed',
      path,
      reason: error.message
    };
  }
  return { kind: 'failed', path, reason: error instanceof Error ? error.message : String(error) };
}

/** Embeds the batch's new pictures, then writes them and the links durably (one Ingest.add). */
async function commit(
  prepared: readonly Prepared[],
  ingest: Ingest,
  counters: IndexCounters,
  problem: (kind: 'failed', path: string, reason: string) => void
) {
  const entries = prepared.flatMap((p) => (p.kind === 'content' ? [p.entry] : []));
  const outcomes = await ingest.add(entries);
  outcomes.forEach((outcome, i) => {
    if (outcome.kind === 'added' || outcome.kind === 'linked') counters.indexed++;
    else if (outcome.kind === 'unchanged') counters.unchanged++;
    // Its content was removed (a clear) between examining and adding: the next run adds it.
    else
      problem(
        'failed',
        entries[i]!.file.path,
        'The collection changed while it was read; index again'
      );
  });
}
