import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { differenceHash } from '#core/dhash';
import type { Embedder } from '../embedding/embedder';
import { ImageRejectedError, type ImageDecoder } from '../embedding/image-decoder';
import type { IndexCounters, NewImage, PathRecord } from '../stores/catalog';
import { isStoreUnavailable, retryWhileUnavailable } from '../stores/availability';
import type { Collection } from './collection';
import { ByteBudget } from './encode-limiter';
import { walkFolder, type WalkEntry } from './folder-walker';
import type { ImageRoots } from './image-roots';

export interface IndexFolderOptions {
  /** Real path of the folder (or single file), already checked against the roots. */
  root: string;
  recursive: boolean;
  roots: ImageRoots;
  collection: Collection;
  decoder: ImageDecoder;
  embedder: Embedder;
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
  | { kind: 'link'; link: PathRecord; unchanged: boolean }
  | { kind: 'embed'; image: Omit<NewImage, 'vector' | 'dhash'>; pixels: Uint8Array }
  | { kind: 'skipped' | 'failed'; path: string; reason: string };

/**
 * File bytes held at once between reading and decoding (the batch being read ahead and the one
 * being decoded): a few large files cannot take memory a file count would not notice. A single
 * file larger than this is read alone.
 */
export const READ_AHEAD_BYTES = 256 * 1024 * 1024;

/** Reasons that mean "not an image" (counted as skipped) rather than "a broken image" (failed). */
const NOT_AN_IMAGE = new Set(['unsupported-format', 'empty']);

/**
 * Indexes a folder incrementally, by content: unchanged files (size + mtime) are skipped, files
 * whose bytes the collection already has are linked to that entry (copies, moves, renames — no
 * re-embedding), new content is decoded and embedded in batches. Reading and decoding the next
 * batch overlaps inference on the current one. Entries a finished scan did not see are removed.
 * Returns whether the scan completed (not cancelled).
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
  const readAhead = new ByteBudget({
    capacity: options.readAheadBytes ?? READ_AHEAD_BYTES,
    queue: Number.MAX_SAFE_INTEGER
  });
  const prepareChunk = async () => {
    const chunk = await nextChunk();
    return {
      size: chunk.length,
      prepared: await whileUnavailable(() =>
        Promise.all(chunk.map((e) => prepare(e, options, readAhead)))
      )
    };
  };

  let pending = prepareChunk();
  for (;;) {
    const { size, prepared } = await pending;
    if (size === 0) break;
    if (signal?.aborted) break;
    pending = prepareChunk(); // overlaps with the commit below
    for (const p of prepared) {
      const path =
        p.kind === 'link' ? p.link.path : p.kind === 'embed' ? p.image.file.path : p.path;
      seen.add(path);
      counters.seen++;
      if (p.kind === 'skipped' || p.kind === 'failed') problem(p.kind, p.path, p.reason);
      if (p.kind === 'unchanged') counters.unchanged++;
    }
    await whileUnavailable(async () => {
      // A write cut short by an outage may have left rows pending: put them in the index first.
      if (storeFailed) await collection.reconcile();
      await commit(prepared, options, counters);
    });
    report();
  }
  // Let a prefetch still in flight finish, so no file handle outlives the job.
  await pending.catch(() => undefined);
  if (signal?.aborted) return false;

  const known = await whileUnavailable(() => collection.catalog.pathsUnder(options.root));
  const gone = known
    .map((p) => p.path)
    .filter((p) => !seen.has(p) && (options.recursive || dirname(p) === options.root));
  counters.removed += await whileUnavailable(() => collection.removePaths(gone));
  report();
  return true;
}

async function prepare(
  entry: WalkEntry,
  options: IndexFolderOptions,
  readAhead: ByteBudget
): Promise<Prepared> {
  if (entry.kind !== 'file') return entry;
  const { path, size, mtimeMs } = entry;
  const { catalog } = options.collection;
  let giveBack: (() => void) | undefined;
  try {
    const existing = await catalog.getPath(path);
    if (existing && existing.size === size && existing.mtimeMs === mtimeMs)
      return { kind: 'unchanged', path };
    // Room for the file's bytes first; they are let go once decoded (only pixels are kept).
    giveBack = await readAhead.claim(size);
    // Checked again as it is opened: the file may have been swapped for a link since the walk.
    const opened = await options.roots.openFile(path);
    if (!opened) {
      return { kind: 'failed', path, reason: 'No longer a file inside the image folders' };
    }
    const bytes = await options.decoder.read(opened.handle).finally(() => opened.handle.close());
    const contentHash = createHash('sha256').update(bytes).digest('hex');
    const file = { path, size: bytes.length, mtimeMs };
    const known = await catalog.findImageByHash(contentHash);
    if (known) {
      return {
        kind: 'link',
        link: { ...file, imageId: known.id },
        unchanged: existing?.imageId === known.id
      };
    }
    const decoded = await options.decoder.decode(bytes, options.collection.model);
    return {
      kind: 'embed',
      pixels: decoded.pixels,
      image: {
        contentHash,
        width: decoded.width,
        height: decoded.height,
        bytes: bytes.length,
        format: decoded.format,
        file
      }
    };
  } catch (error) {
    if (isStoreUnavailable(error)) throw error; // not the file's fault: the job waits
    if (error instanceof ImageRejectedError) {
      return {
        kind: NOT_AN_IMAGE.has(error.reason) ? 'skipped' : 'failed',
        path,
        reason: error.message
      };
    }
    return { kind: 'failed', path, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    giveBack?.();
  }
}

/** Embeds the batch's new pictures, then writes them and the links durably. */
async function commit(prepared: Prepared[], options: IndexFolderOptions, counters: IndexCounters) {
  const { collection, embedder } = options;
  const links = prepared.filter((p) => p.kind === 'link');
  // The next batch is prepared while this one commits, so content it took for new may exist by
  // now; and two files in one batch may share new content. Either way: embed once, link the rest.
  const lateLinks: PathRecord[] = [];
  const sameBatch: { file: PathRecord; hash: string }[] = [];
  const toEmbed: Extract<Prepared, { kind: 'embed' }>[] = [];
  const firstByHash = new Map<string, number>();
  for (const e of prepared) {
    if (e.kind !== 'embed') continue;
    const known = await collection.catalog.findImageByHash(e.image.contentHash);
    if (known) lateLinks.push({ ...e.image.file, imageId: known.id });
    else if (firstByHash.has(e.image.contentHash)) {
      sameBatch.push({ file: { ...e.image.file, imageId: 0 }, hash: e.image.contentHash });
    } else {
      firstByHash.set(e.image.contentHash, toEmbed.length);
      toEmbed.push(e);
    }
  }
  const vectors = await embedder.embedPixels(toEmbed.map((e) => e.pixels));
  const { width, height } = embedder.manifest.input;
  const ids = await collection.addImages(
    toEmbed.map((e, i) => ({
      ...e.image,
      vector: vectors[i]!,
      dhash: differenceHash(e.pixels, width, height)
    }))
  );
  await collection.linkPaths([
    ...links.map((l) => l.link),
    ...lateLinks,
    ...sameBatch.map((c) => ({ ...c.file, imageId: ids[firstByHash.get(c.hash)!]! }))
  ]);
  const changedLinks = links.filter((l) => !l.unchanged).length;
  counters.indexed += toEmbed.length + lateLinks.length + sameBatch.length + changedLinks;
  counters.unchanged += links.length - changedLinks;
}
