import type { Catalog } from '../stores/catalog';
import type { VectorIndex } from '../stores/vector-index';

export interface MigrationReport {
  images: number;
  paths: number;
  /** Pictures the target already had (a re-run after an interruption). */
  alreadyThere: number;
}

/**
 * Copies a collection to other stores without re-embedding: the catalog holds every vector, so
 * pictures, paths and vectors move as they are. Re-running it skips what was already copied.
 * With `target.catalog === source`, only the vectors move (e.g. embedded index → Milvus).
 */
export async function migrateCollection(
  source: Catalog,
  target: { catalog: Catalog; index?: VectorIndex },
  options: { modelId: string; dimension: number; onProgress?: (report: MigrationReport) => void }
): Promise<MigrationReport> {
  const report: MigrationReport = { images: 0, paths: 0, alreadyThere: 0 };
  const sameCatalog = target.catalog === source;
  if (!sameCatalog) await target.catalog.claimCollection(options);
  let after = 0;
  for (;;) {
    const page = await source.imagesAfter(after, 500);
    if (page.length === 0) break;
    after = page[page.length - 1]!.id;
    if (sameCatalog) {
      await target.index?.upsert(page.map((img) => ({ id: img.id, vector: img.vector })));
      report.images += page.length;
      report.paths += page.reduce((n, img) => n + img.paths.length, 0);
    } else {
      const fresh = [];
      for (const img of page) {
        if (await target.catalog.findImageByHash(img.contentHash)) report.alreadyThere++;
        else fresh.push(img);
      }
      // Size and mtime as the source knows them, so the next index run sees the files unchanged.
      const fileOf = async (path: string, bytes: number) => {
        const known = await source.getPath(path);
        return { path, size: known?.size ?? bytes, mtimeMs: known?.mtimeMs ?? 0 };
      };
      const files = await Promise.all(fresh.map((img) => fileOf(img.paths[0]!, img.bytes)));
      const { ids } = await target.catalog.addImages(
        fresh.map((img, i) => ({
          contentHash: img.contentHash,
          width: img.width,
          height: img.height,
          bytes: img.bytes,
          format: img.format,
          dhash: img.dhash,
          vector: img.vector,
          file: files[i]!
        }))
      );
      const links = [];
      for (const [i, img] of fresh.entries()) {
        for (const path of img.paths.slice(1)) {
          links.push({ ...(await fileOf(path, img.bytes)), imageId: ids[i]! });
        }
      }
      await target.catalog.linkPaths(links);
      if (target.index)
        await target.index.upsert(fresh.map((img, i) => ({ id: ids[i]!, vector: img.vector })));
      await target.catalog.markIndexed(ids);
      report.images += fresh.length;
      report.paths += fresh.length + links.length;
    }
    options.onProgress?.({ ...report });
  }
  await target.index?.flush();
  return report;
}
