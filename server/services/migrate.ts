import type { Catalog } from '../stores/catalog';
import type { VectorIndex } from '../stores/vector-index';
import { Collection } from './collection';
import { Ingest, type IngestEntry } from './ingest';

export interface MigrationReport {
  images: number;
  paths: number;
  /** Pictures the target already had (a re-run after an interruption). */
  alreadyThere: number;
}

/** Pictures read from the source at a time: 500 × a 2048-d vector is 4 MiB. */
const PAGE = 500;

/**
 * Copies a collection to other stores without re-embedding: the catalog holds every vector, so
 * pictures, paths and vectors move as they are, added by content through the same Ingest and
 * write-ahead protocol as indexing (a crash mid-way is repaired like any other). Re-running it
 * skips what was already copied. With `target.catalog === source`, only the vectors move (e.g.
 * embedded index → Milvus). Without `target.index`, the target's index is one built from its
 * catalog when opened (usearch), so only the catalog is written.
 */
export async function migrateCollection(
  source: Pick<Catalog, 'imagesAfter' | 'getPaths'>,
  target: { catalog: Catalog; index?: VectorIndex },
  options: { modelId: string; dimension: number; onProgress?: (report: MigrationReport) => void }
): Promise<MigrationReport> {
  const report: MigrationReport = { images: 0, paths: 0, alreadyThere: 0 };
  const collection = new Collection(
    target.catalog,
    target.index ?? builtFromCatalog(options.dimension),
    {
      id: options.modelId,
      dimension: options.dimension
    }
  );
  if ((target.catalog as unknown) === source) {
    // Only the vectors move, into an index that can list its ids: the audit that repairs a crash
    // sends it every vector it lacks (a re-run sends only what is still missing).
    const audit = await collection.audit();
    const sent = audit.pending + audit.missingVectors;
    report.images = sent;
    report.alreadyThere = (await collection.count()) - sent;
    options.onProgress?.({ ...report });
    await collection.flush();
    return report;
  }
  // Vectors arrive embedded: the Ingest needs no decoder or model here.
  const ingest = new Ingest({ collection });
  for (let after = 0; ;) {
    const page = await source.imagesAfter(after, PAGE);
    if (page.length === 0) break;
    after = page[page.length - 1]!.id;
    const there = await collection.imagesByHashes(page.map((img) => img.contentHash));
    const fresh = page.filter((img) => !there.has(img.contentHash));
    report.alreadyThere += page.length - fresh.length;
    // Size and mtime as the source knows them, so the next index run sees the files unchanged.
    const known = await source.getPaths(fresh.flatMap((img) => img.paths));
    // One entry per path, all of one picture's with the same content: the first adds it, the
    // others are linked to it.
    const entries: IngestEntry[] = fresh.flatMap((img) =>
      img.paths.map((path) => ({
        file: {
          path,
          size: known.get(path)?.size ?? img.bytes,
          mtimeMs: known.get(path)?.mtimeMs ?? 0
        },
        content: { ...img, kind: 'embedded' as const }
      }))
    );
    const outcomes = await ingest.add(entries);
    report.images += outcomes.filter((o) => o.kind === 'added').length;
    report.paths += entries.length;
    options.onProgress?.({ ...report });
  }
  await collection.flush();
  return report;
}

/**
 * The index of a target without one of its own to fill (usearch, rebuilt from the catalog when it
 * opens): written rows are simply marked indexed.
 */
const builtFromCatalog = (dimension: number): VectorIndex => ({
  kind: 'built-from-catalog',
  dimension,
  upsert: () => Promise.resolve(),
  remove: () => Promise.resolve(),
  search: () => Promise.resolve([]),
  count: () => Promise.resolve(0),
  clear: () => Promise.resolve(),
  flush: () => Promise.resolve(),
  close: () => Promise.resolve()
});
