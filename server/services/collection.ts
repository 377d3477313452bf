import { l2Normalize } from '#core/vector';
import { CollectionMismatchError, ValidationError } from '../errors';
import { assertSameModel } from '../stores/collection-model';
import type { ModelManifest } from '#core/model-manifest';
import { isStoreUnavailable } from '../stores/availability';
import {
  CollectionNotFoundError,
  type Catalog,
  type ImageRecord,
  type ImageWithPaths,
  type NewImage,
  type PathRecord
} from '../stores/catalog';
import { DEFAULT_COLLECTION } from '../stores/collection-names';
import type { VectorIndex, VectorMatch } from '../stores/vector-index';
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

/** A search result: which picture, where and how close. Routes add the URLs they serve it at. */
export interface SearchHit {
  id: number;
  /** The first of `paths` (byte order): the one path callers that want a single file use. */
  path: string;
  /** Every file with this picture's bytes (identical files are one picture), in byte order. */
  paths: string[];
  score: number;
  width: number;
  height: number;
  /** SHA-256 of the bytes: tells a hit that is the very file searched with. */
  contentHash: string;
  /** Difference hash (core/dhash.ts): tells re-encoded or resized copies among the hits. */
  dhash: string;
}

/** What a collection needs to know of its model: vectors of another one must not mix in. */
export type CollectionModelFacts = Pick<ModelManifest, 'id' | 'dimension'>;

/** What `addByContent` did with one picture: its id, and whether it is new to the collection. */
export interface AddedContent {
  id: number;
  created: boolean;
}

/**
 * One collection: the catalog (source of truth) and the vector index kept in step with it.
 * Every write follows the same write-ahead protocol — catalog row `pending` with its vector,
 * then the index, then `indexed` — so a crash between the two stores is repaired by
 * `reconcile()` at the next start. Nothing else holds the two stores: callers read through the
 * methods below, and write through `addByContent`, `linkPaths`, `removePaths` and `clear`.
 */
export class Collection {
  /** Writes and index snapshots never interleave, so a snapshot never claims a missing write. */
  private readonly writes = new Mutex();
  /** Calls under way; `close` waits for them, so none meets a closed store half-way. */
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private closing = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly index: VectorIndex,
    readonly model: CollectionModelFacts,
    /** For the error a call gets once the collection is closed (deleted). */
    readonly name: string = DEFAULT_COLLECTION
  ) {}

  /**
   * Runs one call of the collection's API. A request may hold the open collection while it is
   * deleted (between looking it up and searching it, say): a call that starts after `close` is
   * CollectionNotFoundError — the collection is gone — rather than a closed store's plain error,
   * and a call already under way finishes before the stores close.
   */
  private async use<T>(work: () => Promise<T>): Promise<T> {
    if (this.closing) throw new CollectionNotFoundError(this.name);
    this.inFlight++;
    try {
      return await work();
    } finally {
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  /** Puts vectors the catalog holds as `pending` into the index; returns how many. */
  reconcile(): Promise<number> {
    return this.use(() => this.writes.run(() => this.reconcileUnlocked()));
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
    return this.use(() => this.writes.run(() => this.auditUnlocked()));
  }

  private async auditUnlocked(): Promise<AuditReport> {
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
  }

  /** `addByContent` without extra links: each image's picture id, once both stores have it. */
  async addImages(images: readonly NewImage[]): Promise<number[]> {
    return (await this.addByContent(images)).map((a) => a.id);
  }

  /**
   * Adds pictures by content, in one write: an image whose content the collection already has
   * (or that an earlier image of the same call brings) becomes a link to that picture instead;
   * the rest are added under the write-ahead protocol; then `links` are applied. Looking the
   * hashes up under the write lock means an upload and an index job adding the same content at
   * once both end up linked to one picture. Returns, in input order, each image's picture.
   */
  addByContent(
    images: readonly NewImage[],
    links: readonly PathRecord[] = []
  ): Promise<AddedContent[]> {
    if (images.length === 0 && links.length === 0) return Promise.resolve([]);
    return this.use(() => this.writes.run(() => this.addByContentUnlocked(images, links)));
  }

  private async addByContentUnlocked(
    images: readonly NewImage[],
    links: readonly PathRecord[]
  ): Promise<AddedContent[]> {
    const hashes = [...new Set(images.map((i) => i.contentHash))];
    let known = await this.findByHashes(hashes);
    let plan = planByContent(images, known);
    let written: { ids: number[]; removedIds: number[] };
    try {
      written = await this.insertPending(plan.fresh);
    } catch (error) {
      // Another server sharing the catalog may have added the same content between the look-up
      // and the insert (which then fails as a whole): look again, once.
      if (isStoreUnavailable(error)) throw error;
      const again = await this.findByHashes(hashes);
      if (again.size === known.size) throw error;
      known = again;
      plan = planByContent(images, known);
      written = await this.insertPending(plan.fresh);
    }
    await this.indexPending(plan.fresh, written);
    const added = plan.resolve(written.ids);
    await this.linkPathsUnlocked([
      ...images.flatMap((image, i) =>
        added[i]!.created ? [] : [{ ...image.file, imageId: added[i]!.id }]
      ),
      ...links
    ]);
    return added;
  }

  /** Write-ahead steps 1–2: the model claimed, the rows written `pending` with their vectors. */
  private async insertPending(images: readonly NewImage[]) {
    if (images.length === 0) return { ids: [], removedIds: [] };
    // The claim is part of the images' transaction: a refused claim writes nothing, and a crash
    // cannot leave the model recorded without pictures.
    return this.catalog.addImages(images, {
      modelId: this.model.id,
      dimension: this.model.dimension
    });
  }

  /** Write-ahead steps 3–5: the vectors into the index, the rows `indexed`, dropped ones out. */
  private async indexPending(
    images: readonly NewImage[],
    { ids, removedIds }: { ids: number[]; removedIds: number[] }
  ): Promise<void> {
    if (ids.length === 0) return;
    failpoint('after-catalog-write');
    await this.index.upsert(ids.map((id, i) => ({ id, vector: images[i]!.vector })));
    await this.catalog.markIndexed(ids);
    if (removedIds.length > 0) await this.index.remove(removedIds);
  }

  /** Points files at pictures the collection already has (copies, moves, touched files). */
  linkPaths(links: readonly PathRecord[]): Promise<void> {
    if (links.length === 0) return Promise.resolve();
    return this.use(() => this.writes.run(() => this.linkPathsUnlocked(links)));
  }

  private async linkPathsUnlocked(links: readonly PathRecord[]): Promise<void> {
    if (links.length === 0) return;
    const removedIds = await this.catalog.linkPaths(links);
    if (removedIds.length > 0) await this.index.remove(removedIds);
  }

  /** Forgets files; pictures left without a file leave the index too. Returns how many went. */
  removePaths(paths: readonly string[]): Promise<number> {
    if (paths.length === 0) return Promise.resolve(0);
    return this.use(() =>
      this.writes.run(async () => {
        const removedIds = await this.catalog.removePaths(paths);
        failpoint('after-catalog-remove');
        if (removedIds.length > 0) await this.index.remove(removedIds);
        return removedIds.length;
      })
    );
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
    return this.use(() => this.searchValid(query, topK));
  }

  private async searchValid(query: Float32Array, topK: number): Promise<SearchHit[]> {
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

  /** Distinct pictures in the catalog. */
  count(): Promise<number> {
    return this.use(() => this.catalog.countImages());
  }

  /** Vectors in the index (equal to `count()` once every write is repaired; see `audit`). */
  indexedCount(): Promise<number> {
    return this.use(() => this.index.count());
  }

  /** Nearest vectors in the index, catalog rows not looked up (ids may be of removed rows). */
  neighbours(vector: Float32Array, k: number): Promise<VectorMatch[]> {
    return this.use(() => this.index.search(vector, k));
  }

  /** Whether each store answers now (a store that cannot tell counts as up). */
  async reachable(): Promise<{ catalog: boolean; vectors: boolean }> {
    const up = (store: { ping?: () => Promise<boolean> }) =>
      store.ping ? store.ping().catch(() => false) : Promise.resolve(true);
    const [catalog, vectors] = await Promise.all([up(this.catalog), up(this.index)]);
    return { catalog, vectors };
  }

  getImage(id: number): Promise<ImageWithPaths | undefined> {
    return this.use(() => this.catalog.getImages([id]).then((m) => m.get(id)));
  }

  getPath(path: string): Promise<PathRecord | undefined> {
    return this.use(() => this.catalog.getPath(path));
  }

  /** The known ones of these files, by path: one query for a whole batch. */
  getPaths(paths: readonly string[]): Promise<Map<string, PathRecord>> {
    return paths.length === 0
      ? Promise.resolve(new Map())
      : this.use(() => this.catalog.getPaths(paths));
  }

  /** The pictures with these contents, by SHA-256: one query for a whole batch. */
  imagesByHashes(hashes: readonly string[]): Promise<Map<string, ImageRecord>> {
    return this.use(() => this.findByHashes(hashes));
  }

  private findByHashes(hashes: readonly string[]): Promise<Map<string, ImageRecord>> {
    return hashes.length === 0
      ? Promise.resolve(new Map())
      : this.catalog.findImagesByHashes(hashes);
  }

  /** Known files equal to `root` or below it. */
  pathsUnder(root: string): Promise<PathRecord[]> {
    return this.use(() => this.catalog.pathsUnder(root));
  }

  /** Every picture with its paths and vector, in id order, a page at a time. */
  imagesAfter(
    afterId: number,
    limit: number
  ): Promise<(ImageWithPaths & { vector: Float32Array })[]> {
    return this.use(() => this.catalog.imagesAfter(afterId, limit));
  }

  /** Vectors in change order (see VectorSource); enough to average them without paths. */
  vectorsChangedSince(afterSeq: number, limit: number) {
    return this.use(() => this.catalog.vectorsChangedSince(afterSeq, limit));
  }

  /** Changes with every write to the content (see Catalog.contentRevision). */
  contentRevision(): Promise<string> {
    return this.use(() => this.catalog.contentRevision());
  }

  clear(): Promise<void> {
    return this.use(() =>
      this.writes.run(async () => {
        await this.catalog.clear();
        await this.index.clear();
        await this.index.flush();
      })
    );
  }

  /** Makes the index durable (embedded: snapshot; Milvus: flush). */
  flush(): Promise<void> {
    return this.use(() => this.writes.run(() => this.index.flush()));
  }

  /** Closes the stores once the calls under way are done; later calls are 404 (see `use`). */
  async close(): Promise<void> {
    if (!(await this.stop())) return;
    await this.writes.run(() => this.index.flush());
    await this.index.close();
    await this.catalog.close();
  }

  /**
   * Closes a collection another server deleted: what the index keeps here alone (a file) goes,
   * shared vectors stay (see VectorIndex.discardLocal).
   */
  async discard(): Promise<void> {
    if (!(await this.stop())) return;
    await this.writes.run(() => (this.index.discardLocal ?? this.index.close).call(this.index));
    await this.catalog.close();
  }

  /** Refuses new calls and waits for those under way; false when it was stopped already. */
  private async stop(): Promise<boolean> {
    if (this.closing) return false;
    this.closing = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    return true;
  }
}

/**
 * Throws CollectionMismatchError when another model (or dimension) built this collection. A
 * collection with a model recorded but no picture is what a crash between the claim and the first
 * insert left before the claim joined the images' transaction (data directories from then may still
 * hold one): the error then says that dropping it loses nothing.
 */
export async function assertCollectionModel(
  catalog: Pick<Catalog, 'collectionModel' | 'countImages'>,
  model: CollectionModelFacts
): Promise<void> {
  const recorded = await catalog.collectionModel();
  const active = { modelId: model.id, dimension: model.dimension };
  try {
    assertSameModel(recorded, active);
  } catch (error) {
    if (!(error instanceof CollectionMismatchError) || (await catalog.countImages()) > 0)
      throw error;
    throw new CollectionMismatchError(
      `This collection is empty, but model "${recorded!.modelId}" was recorded for it by a first ` +
        `write that did not finish; the active model is "${model.id}". Start with --model ` +
        `${recorded!.modelId}, or clear it (lookalike drop: it holds no pictures, nothing is lost).`
    );
  }
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

/** A hit from one catalog row; getImages reads every row's paths in the same batch, sorted. */
function toHit(image: ImageWithPaths, score: number): SearchHit {
  return {
    id: image.id,
    path: image.paths[0]!,
    paths: image.paths,
    score,
    width: image.width,
    height: image.height,
    contentHash: image.contentHash,
    dhash: image.dhash
  };
}

/**
 * Which of `images` to insert (the first of each content `known` lacks) and, once inserted, the
 * picture each image ends up with.
 */
function planByContent(images: readonly NewImage[], known: ReadonlyMap<string, { id: number }>) {
  const fresh: NewImage[] = [];
  const freshIndex = new Map<string, number>();
  for (const image of images) {
    if (known.has(image.contentHash) || freshIndex.has(image.contentHash)) continue;
    freshIndex.set(image.contentHash, fresh.length);
    fresh.push(image);
  }
  const resolve = (ids: readonly number[]): AddedContent[] =>
    images.map((image, i) => {
      const old = known.get(image.contentHash);
      if (old) return { id: old.id, created: false };
      const at = freshIndex.get(image.contentHash)!;
      return { id: ids[at]!, created: fresh[at] === images[i] };
    });
  return { fresh, resolve };
}
