import {
  MeanAccumulator,
  SNAPSHOT_FORMAT,
  SnapshotBuilder,
  type SnapshotMeta
} from '#core/snapshot';
import type { Collection } from './collection';

/** Rows per catalog page: 500 × a 2048-d vector is 4 MiB. */
const PAGE = 500;

export interface SnapshotVersion {
  /** Opaque; changes whenever the collection's content changes (see Catalog.contentRevision). */
  version: string;
  /** Pictures in the collection now. */
  count: number;
  modelId: string;
}

export interface BuiltSnapshot {
  version: string;
  bytes: Uint8Array<ArrayBuffer>;
}

/**
 * The offline snapshot of the collection (format: core/snapshot.ts). Every picture the
 * catalog holds is in it, `pending` ones too: the catalog has their vectors, and `pending` only
 * means the vector index may not have caught up yet (it will, or the next start repairs it).
 *
 * The last build is kept in memory for its version, and requests that arrive during a build share
 * it. The version is read before the pages, so a write during a build can only make the bytes
 * newer than their label: the next version check then sees a change and the page fetches again.
 */
export class OfflineSnapshots {
  #cached?: BuiltSnapshot;
  #building?: { version: string; done: Promise<BuiltSnapshot> };

  constructor(
    private readonly collection: Pick<
      Collection,
      'model' | 'contentRevision' | 'count' | 'imagesAfter' | 'vectorsChangedSince'
    >,
    private readonly now: () => number = Date.now
  ) {}

  /** Cheap (two small queries): what the page polls to decide whether to fetch again. */
  async version(): Promise<SnapshotVersion> {
    const { collection } = this;
    const [revision, count] = await Promise.all([collection.contentRevision(), collection.count()]);
    const { model } = collection;
    // The model is part of it: the same catalog served with another model is another snapshot.
    // Only characters an ETag may hold.
    const version = `${SNAPSHOT_FORMAT}-${model.id}-${revision}`.replace(/[^A-Za-z0-9._-]/g, '_');
    return { version, count, modelId: model.id };
  }

  /** The snapshot of the current version: cached, joined while being built, or built now. */
  async current(): Promise<BuiltSnapshot> {
    const { version } = await this.version();
    if (this.#cached?.version === version) return this.#cached;
    if (this.#building?.version === version) return this.#building.done;
    const done = this.#build(version);
    const building = { version, done };
    this.#building = building;
    try {
      const built = await done;
      // A slower build of an older version must not replace a newer one.
      if (this.#building === building) this.#cached = built;
      return built;
    } finally {
      // A failed build is not shared with later requests; they start their own.
      if (this.#building === building) this.#building = undefined;
    }
  }

  async #build(version: string): Promise<BuiltSnapshot> {
    const { collection } = this;
    const { model } = collection;
    const meta: SnapshotMeta = {
      version,
      modelId: model.id,
      dimension: model.dimension,
      createdAt: this.now()
    };
    const builder = new SnapshotBuilder(meta, await this.#mean());
    for (let after = 0; ;) {
      const page = await collection.imagesAfter(after, PAGE);
      if (page.length === 0) break;
      for (const image of page) {
        // Search results name an image by its first path; an image without one is being removed.
        const path = image.paths[0];
        if (path === undefined) continue;
        builder.add({ id: image.id, path, width: image.width, height: image.height }, image.vector);
      }
      after = page[page.length - 1]!.id;
    }
    return { version, bytes: builder.finish() };
  }

  /**
   * The centre the residuals are quantised around: the mean of every vector, in a first pass that
   * reads vectors only (any centre keeps rankings exact; the mean keeps residuals smallest).
   */
  async #mean(): Promise<Float32Array> {
    const { collection } = this;
    const { model } = collection;
    const mean = new MeanAccumulator(model.dimension);
    for (let afterSeq = 0; ;) {
      const page = await collection.vectorsChangedSince(afterSeq, PAGE);
      if (page.length === 0) break;
      for (const { vector } of page) if (vector.length === model.dimension) mean.add(vector);
      afterSeq = page[page.length - 1]!.seq;
    }
    return mean.mean();
  }
}
