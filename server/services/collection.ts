import { l2Normalize } from '#core/vector';
import { ValidationError } from '../errors';
import { assertSameModel } from '../stores/collection-model';
import type { ModelManifest } from '#core/model-manifest';
import type { Catalog, ImageWithPaths, NewImage, PathRecord } from '../stores/catalog';
import type { VectorIndex } from '../stores/vector-index';
import { failpoint } from '../failpoint';
import { Mutex } from './mutex';

export interface AuditReport {
  /** Rows written but not yet in the index (a crash between the two writes). */
  pending: number;
  /** Indexed rows whose vector the index had lost; re-sent. */
  missingVectors: number;
  /** Vectors without a catalog row; removed. */
  orphanVectors: number;
  /** False when the index cannot list its ids (in-process: rebuilt from the catalog instead). */
  checked: boolean;
}

export interface SearchHit {
  id: number;
  path: string;
  score: number;
  width: number;
  height: number;
  imageUrl: string;
  thumbUrl: string;
}

/**
 * One collection: the catalog (source of truth) and the vector index kept in step with it.
 * Every write follows the same write-ahead protocol — catalog row `pending` with its vector,
 * then the index, then `indexed` — so a crash between the two stores is repaired by
 * `reconcile()` at the next start.
 */
export class Collection {
  /** Writes and index snapshots never interleave, so a snapshot never claims a missing write. */
  private readonly writes = new Mutex();

  constructor(
    readonly catalog: Catalog,
    readonly index: VectorIndex,
    readonly model: ModelManifest
  ) {}

  /** Puts vectors the catalog holds as `pending` into the index; returns how many. */
  reconcile(): Promise<number> {
    return this.writes.run(() => this.reconcileUnlocked());
  }

  private async reconcileUnlocked(): Promise<number> {
    let repaired = 0;
    for (;;) {
      const pending = await this.catalog.pendingImages(500);
      if (pending.length === 0) return repaired;
      await this.index.upsert(pending);
      await this.catalog.markIndexed(pending.map((p) => p.id));
      repaired += pending.length;
    }
  }

  /**
   * Compares the two stores and repairs them: pending rows go into the index, catalog rows whose
   * vector the index lacks are re-sent, vectors without a catalog row are removed. Needs an index
   * that can list its ids (Milvus); an in-process index is rebuilt from the catalog anyway.
   */
  audit(): Promise<AuditReport> {
    return this.writes.run(async () => {
      const report: AuditReport = {
        pending: 0,
        missingVectors: 0,
        orphanVectors: 0,
        checked: false
      };
      report.pending = await this.reconcileUnlocked();
      const { index, catalog } = this;
      if (!index.listIds) return report;
      report.checked = true;
      // Merge the two ascending id lists; only the vectors that need re-sending are read.
      const listIds = index.listIds.bind(index);
      const rows = ascendingIds((after) => catalog.idsAfter(after, 1000));
      const vectors = ascendingIds((after) => listIds(after, 1000));
      const missing: number[] = [];
      const orphans: number[] = [];
      let row = (await rows.next()).value;
      let vector = (await vectors.next()).value;
      while (row !== undefined || vector !== undefined) {
        if (vector === undefined || (row !== undefined && row < vector)) {
          missing.push(row!);
          row = (await rows.next()).value;
        } else if (row === undefined || vector < row) {
          orphans.push(vector);
          vector = (await vectors.next()).value;
        } else {
          row = (await rows.next()).value;
          vector = (await vectors.next()).value;
        }
      }
      for (let k = 0; k < missing.length; k += 500) {
        await index.upsert(await catalog.vectorsOf(missing.slice(k, k + 500)));
      }
      if (orphans.length > 0) await index.remove(orphans);
      if (missing.length + orphans.length > 0) await index.flush();
      report.missingVectors = missing.length;
      report.orphanVectors = orphans.length;
      return report;
    });
  }

  /** Adds embedded images durably; returns their ids once both stores have them. */
  addImages(images: readonly NewImage[]): Promise<number[]> {
    if (images.length === 0) return Promise.resolve([]);
    return this.writes.run(async () => {
      await this.catalog.claimCollection({
        modelId: this.model.id,
        dimension: this.model.dimension
      });
      const { ids, removedIds } = await this.catalog.addImages(images);
      failpoint('after-catalog-write');
      await this.index.upsert(ids.map((id, i) => ({ id, vector: images[i]!.vector })));
      await this.catalog.markIndexed(ids);
      if (removedIds.length > 0) await this.index.remove(removedIds);
      return ids;
    });
  }

  /** Points files at pictures the collection already has (copies, moves, touched files). */
  linkPaths(links: readonly PathRecord[]): Promise<void> {
    if (links.length === 0) return Promise.resolve();
    return this.writes.run(async () => {
      const removedIds = await this.catalog.linkPaths(links);
      if (removedIds.length > 0) await this.index.remove(removedIds);
    });
  }

  /** Forgets files; pictures left without a file leave the index too. Returns how many went. */
  removePaths(paths: readonly string[]): Promise<number> {
    if (paths.length === 0) return Promise.resolve(0);
    return this.writes.run(async () => {
      const removedIds = await this.catalog.removePaths(paths);
      failpoint('after-catalog-remove');
      if (removedIds.length > 0) await this.index.remove(removedIds);
      return removedIds.length;
    });
  }

  /** Checks a client's query vector: right length, finite numbers, not all zero. */
  validateQuery(vector: readonly number[] | Float32Array): Float32Array {
    if (vector.length !== this.model.dimension) {
      throw new ValidationError(
        `Query vector has ${vector.length} values; model ${this.model.id} gives ${this.model.dimension}`
      );
    }
    for (let i = 0; i < vector.length; i++) {
      if (!Number.isFinite(vector[i]))
        throw new ValidationError(`Query vector value ${i} is not a finite number`);
    }
    const unit = l2Normalize(vector);
    if (unit.every((v) => v === 0)) throw new ValidationError('Query vector is all zeros');
    return unit;
  }

  /** Best matches first; the score is cosine similarity. */
  async search(vector: readonly number[] | Float32Array, topK: number): Promise<SearchHit[]> {
    const query = this.validateQuery(vector);
    const matches = await this.index.search(query, topK);
    const images = await this.catalog.getImages(matches.map((m) => m.id));
    const hits: SearchHit[] = [];
    for (const match of matches) {
      const image = images.get(match.id);
      // A vector whose catalog row was just removed: skip it rather than return a dead entry.
      if (!image || image.paths.length === 0) continue;
      hits.push(toHit(image, match.score));
    }
    return hits;
  }

  count(): Promise<number> {
    return this.catalog.countImages();
  }

  getImage(id: number): Promise<ImageWithPaths | undefined> {
    return this.catalog.getImages([id]).then((m) => m.get(id));
  }

  clear(): Promise<void> {
    return this.writes.run(async () => {
      await this.catalog.clear();
      await this.index.clear();
      await this.index.flush();
    });
  }

  /** Makes the index durable (embedded: snapshot; Milvus: flush). */
  flush(): Promise<void> {
    return this.writes.run(() => this.index.flush());
  }

  async close(): Promise<void> {
    await this.flush();
    await this.index.close();
    await this.catalog.close();
  }
}

/** Throws CollectionMismatchError when another model (or dimension) built this collection. */
export async function assertCollectionModel(catalog: Catalog, model: ModelManifest): Promise<void> {
  assertSameModel(await catalog.collectionModel(), {
    modelId: model.id,
    dimension: model.dimension
  });
}

/** Ids in ascending order, fetched a page at a time from `page(afterId)`. */
async function* ascendingIds(
  page: (afterId: number) => Promise<number[]>
): AsyncGenerator<number, undefined> {
  for (let after = 0; ;) {
    const ids = await page(after);
    if (ids.length === 0) return undefined;
    yield* ids;
    after = ids[ids.length - 1]!;
  }
}

export function toHit(image: ImageWithPaths, score: number): SearchHit {
  return {
    id: image.id,
    path: image.paths[0]!,
    score,
    width: image.width,
    height: image.height,
    imageUrl: `/api/images/${image.id}`,
    thumbUrl: `/api/images/${image.id}/thumb`
  };
}
