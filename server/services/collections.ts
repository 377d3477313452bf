import type { Logger } from 'pino';
import { CollectionMismatchError } from '../errors';
import type { Embedder } from '../embedding/embedder';
import type { ImageDecoder } from '../embedding/image-decoder';
import type { ActiveModel } from '../models/resolve-model';
import type { Catalog, CatalogStore, CollectionSummary } from '../stores/catalog';
import { DEFAULT_COLLECTION } from '../stores/collection-names';
import type { VectorIndex } from '../stores/vector-index';
import { assertCollectionModel, Collection } from './collection';
import type { ImageRoots } from './image-roots';
import { IndexJobs } from './index-jobs';
import { Mutex } from './mutex';

/** How long an open collection is trusted to still exist before the catalog is asked again. */
const RECHECK_MS = 2000;

/** A collection ready to use: its stores, its jobs and the model that builds it. */
export interface OpenCollection {
  name: string;
  collection: Collection;
  /**
   * The collection's Library folders: catalog rows outside the write-ahead protocol (no vectors),
   * so the scoped catalog narrowed to them rather than a Collection method.
   */
  library: LibraryRows;
  jobs: IndexJobs;
  model: ActiveModel;
  embedder: Embedder;
}

/** What the Library service reads and writes of a collection's catalog. */
export type LibraryRows = Pick<
  Catalog,
  'folders' | 'recordFolder' | 'setFolderWatched' | 'forgetFolder' | 'countPathsUnder'
>;

/** A collection as listed: `model` is null only for a default collection never used yet. */
export interface CollectionInfo {
  name: string;
  model: { id: string; dimension: number } | null;
  /** Distinct pictures. */
  images: number;
  default: boolean;
}

/** What one model gives every collection built with it (shared: one per model id). */
export interface ModelRuntime {
  model: ActiveModel;
  decoder: ImageDecoder;
  embedder: Embedder;
  close(): Promise<void>;
}

export interface CollectionsDeps {
  /** The database of every collection. */
  store: Pick<
    CatalogStore,
    | 'listCollections'
    | 'getCollection'
    | 'collectionId'
    | 'createCollection'
    | 'deleteCollection'
    | 'catalog'
    | 'jobStore'
    | 'watchedFolders'
  >;
  roots: ImageRoots;
  batchSize: number;
  /** How long an index job's lease lasts before another server may take its folder over. */
  jobLeaseMs?: number;
  log?: Logger;
  /** Loads a model by id (the composition root knows how); called once per id. */
  loadModel(modelId: string): Promise<ModelRuntime>;
  /** Opens (creating if needed) the vector index of a collection. */
  openVectors(
    summary: CollectionSummary,
    dimension: number,
    catalog: Catalog
  ): Promise<VectorIndex>;
  /** Deletes a deleted collection's vectors for good; its index, if it was open, is closed. */
  dropVectors(summary: CollectionSummary): Promise<void>;
}

/**
 * Every named collection of the data directory (or MySQL database): opened on first use with the
 * model recorded for it, each with its own vector index and index jobs; models (and their
 * inference workers) are shared between collections of the same model. The default collection
 * is opened at start by `adoptDefault` and never deleted: deleting it empties it.
 */
export class Collections {
  readonly #opened = new Map<string, Promise<OpenCollection>>();
  /** The catalog id of each open collection, to notice one deleted by another server. */
  readonly #ids = new Map<string, number>();
  readonly #checkedAt = new Map<string, number>();
  readonly #models = new Map<string, Promise<ModelRuntime>>();
  /** Opening, creating and deleting never interleave (a delete must not race a first open). */
  readonly #changes = new Mutex();
  readonly #deletedListeners = new Set<(name: string) => void>();
  #defaultModelId: string | undefined;
  #default: OpenCollection | undefined;
  #closed = false;

  constructor(private readonly deps: CollectionsDeps) {}

  /**
   * Opens the default collection with a model the caller already loaded (the server's model:
   * `--model`, or the one that built it); new collections get this model unless they ask for
   * another.
   */
  async adoptDefault(loaded: ModelRuntime): Promise<OpenCollection> {
    const id = loaded.model.manifest.id;
    this.#models.set(id, Promise.resolve(loaded));
    this.#defaultModelId = id;
    const opening = this.#openExisting(DEFAULT_COLLECTION, loaded);
    this.#opened.set(DEFAULT_COLLECTION, opening);
    this.#default = await opening;
    return this.#default;
  }

  /** The default collection (open from the start; see adoptDefault). */
  get defaultCollection(): OpenCollection {
    if (!this.#default) throw new Error('The default collection is not open yet');
    return this.#default;
  }

  /** Every collection's watched Library folders (see CatalogStore.watchedFolders). */
  watchedFolders() {
    return this.deps.store.watchedFolders();
  }

  /** Calls `listener` after a collection is deleted (or the default one emptied) here. */
  onDeleted(listener: (name: string) => void): () => void {
    this.#deletedListeners.add(listener);
    return () => this.#deletedListeners.delete(listener);
  }

  /** Every collection, by name, the default one included. */
  list(): Promise<CollectionSummary[]> {
    return this.deps.store.listCollections();
  }

  /** Every collection as listed to people and clients, by name. */
  async describeAll(): Promise<CollectionInfo[]> {
    return Promise.all((await this.list()).map((summary) => this.#describe(summary)));
  }

  /** One collection as listed; undefined when there is none of that name. */
  async describe(name: string): Promise<CollectionInfo | undefined> {
    const summary = await this.deps.store.getCollection(name);
    return summary && this.#describe(summary);
  }

  /**
   * Creates a collection with `model` (else the server's), or finds the one of that name:
   * `created` says which. An existing collection of another model is a CollectionMismatchError.
   */
  async create(
    name: string,
    options: { model?: string } = {}
  ): Promise<{ open: OpenCollection; created: boolean }> {
    const existed = (await this.deps.store.getCollection(name)) !== undefined;
    const open = await this.getOrCreate(name, options);
    const has = open.model.manifest.id;
    if (existed && options.model !== undefined && options.model !== has) {
      throw new CollectionMismatchError(
        `Collection "${name}" exists with model "${has}", not "${options.model}": delete it ` +
          'first, or choose another name.'
      );
    }
    return { open, created: !existed };
  }

  /** The model an open collection uses, else the one recorded for it. */
  async #describe(summary: CollectionSummary): Promise<CollectionInfo> {
    const opening = this.#opened.get(summary.name);
    const open = opening && (await opening.catch(() => undefined));
    const recorded = summary.model;
    const model = open
      ? { id: open.model.manifest.id, dimension: open.model.manifest.dimension }
      : recorded
        ? { id: recorded.modelId, dimension: recorded.dimension }
        : null;
    return {
      name: summary.name,
      model,
      images: summary.images,
      default: summary.name === DEFAULT_COLLECTION
    };
  }

  /**
   * The collection, opened if it was not yet; undefined when there is none of that name. An open
   * collection that another server sharing the catalog deleted (or deleted and created again) since
   * is closed here and opened afresh.
   */
  async get(name: string): Promise<OpenCollection | undefined> {
    const open = this.#opened.get(name);
    if (open && (await this.#current(name))) return open;
    return this.#changes.run(async () => {
      const again = this.#opened.get(name);
      if (again) {
        if (await this.#current(name)) return again;
        this.#opened.delete(name);
        this.#ids.delete(name);
        const stale = await again.catch(() => undefined);
        this.deps.log?.warn({ collection: name }, 'collection deleted elsewhere; closed here');
        await stale?.jobs.close();
        // Its index file (if any) is of no use any more: ids are never reused. Its Milvus
        // collection is not dropped here: the deleting server did, and the name may be reused.
        await stale?.collection.discard().catch(() => undefined);
      }
      const summary = await this.deps.store.getCollection(name);
      if (!summary) return undefined;
      return this.#remember(name, this.#openExisting(name));
    });
  }

  /**
   * Whether the open collection `name` is still the one of that name in the catalog (one small
   * query; the default collection is never deleted, and one still opening counts as current).
   */
  async #current(name: string): Promise<boolean> {
    const id = this.#ids.get(name);
    if (name === DEFAULT_COLLECTION || id === undefined) return true;
    // Looked up at most once per interval (one indexed row, nothing counted): a search of a
    // named collection should not pay a round trip to the catalog every time.
    const now = Date.now();
    if (now - (this.#checkedAt.get(name) ?? 0) < RECHECK_MS) return true;
    const current = (await this.deps.store.collectionId(name)) === id;
    if (current) this.#checkedAt.set(name, now);
    return current;
  }

  /**
   * The collection, created first when there is none of that name: with `model` (any the
   * server can load), else the server's model. An existing collection keeps its own model.
   */
  async getOrCreate(name: string, options: { model?: string } = {}): Promise<OpenCollection> {
    const open = await this.get(name);
    if (open) return open;
    return this.#changes.run(async () => {
      const again = this.#opened.get(name);
      if (again) return again;
      if (await this.deps.store.getCollection(name))
        return this.#remember(name, this.#openExisting(name));
      return this.#remember(name, this.#create(name, options.model));
    });
  }

  /**
   * Deletes a collection: cancels its jobs, drops its vectors and its catalog rows. The default
   * collection is emptied instead. False when there is none of that name.
   */
  async delete(name: string): Promise<boolean> {
    const deleted = await this.#delete(name);
    if (deleted) for (const listener of this.#deletedListeners) listener(name);
    return deleted;
  }

  #delete(name: string): Promise<boolean> {
    return this.#changes.run(async () => {
      if (name === DEFAULT_COLLECTION) {
        const open = await this.#opened.get(DEFAULT_COLLECTION);
        if (!open) return this.deps.store.deleteCollection(name);
        await open.collection.clear();
        return true;
      }
      const summary = await this.deps.store.getCollection(name);
      const opening = this.#opened.get(name);
      if (!summary && !opening) return false;
      if (opening) {
        this.#opened.delete(name);
        this.#ids.delete(name);
        const open = await opening.catch(() => undefined);
        if (open) {
          await open.jobs.close();
          await open.collection.close();
        }
      }
      if (summary) await this.deps.dropVectors(summary);
      await this.deps.store.deleteCollection(name);
      this.deps.log?.warn({ collection: name }, 'collection deleted');
      return summary !== undefined;
    });
  }

  /** Stops every collection's jobs, closes the collections, then the models. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const opened = await Promise.all(
      [...this.#opened.values()].map((p) => p.catch(() => undefined))
    );
    this.#opened.clear();
    // Jobs first: a running job's last record goes to the job store, which the catalogs share.
    for (const open of opened) await open?.jobs.close();
    for (const open of opened) await open?.collection.close();
    const models = await Promise.all(
      [...this.#models.values()].map((p) => p.catch(() => undefined))
    );
    this.#models.clear();
    for (const model of models) await model?.close();
  }

  /** Keeps an opening collection for later callers; a failed open is forgotten (tried again). */
  #remember(name: string, opening: Promise<OpenCollection>): Promise<OpenCollection> {
    if (this.#closed) throw new Error('The collections are closed');
    this.#opened.set(name, opening);
    opening.catch(() => {
      if (this.#opened.get(name) === opening) this.#opened.delete(name);
    });
    return opening;
  }

  #model(modelId: string): Promise<ModelRuntime> {
    let loading = this.#models.get(modelId);
    if (!loading) {
      loading = this.deps.loadModel(modelId);
      this.#models.set(modelId, loading);
      loading.catch(() => {
        if (this.#models.get(modelId) === loading) this.#models.delete(modelId);
      });
    }
    return loading;
  }

  /** A new collection: its model loaded first, so a model that cannot load creates nothing. */
  async #create(name: string, modelId?: string): Promise<OpenCollection> {
    const chosen = modelId ?? this.#defaultModelId;
    if (!chosen) throw new Error('The default collection is not open yet');
    const loaded = await this.#model(chosen);
    await this.deps.store.createCollection(name);
    const catalog = await this.deps.store.catalog(name);
    const { manifest } = loaded.model;
    // Recorded now, so the collection keeps its model while it is empty, across restarts too.
    await catalog.claimCollection({ modelId: manifest.id, dimension: manifest.dimension });
    this.deps.log?.info({ collection: name, model: manifest.id }, 'collection created');
    return this.#openWith(name, catalog, loaded);
  }

  async #openExisting(name: string, loaded?: ModelRuntime): Promise<OpenCollection> {
    const catalog = await this.deps.store.catalog(name);
    try {
      const recorded = await catalog.collectionModel();
      const modelId = recorded?.modelId ?? this.#defaultModelId;
      if (!loaded && !modelId) throw new Error('The default collection is not open yet');
      return await this.#openWith(name, catalog, loaded ?? (await this.#model(modelId!)));
    } catch (error) {
      await catalog.close().catch(() => undefined);
      throw error;
    }
  }

  /** Checks the model, opens the vectors, repairs what a crash left, and readies its jobs. */
  async #openWith(name: string, catalog: Catalog, loaded: ModelRuntime): Promise<OpenCollection> {
    const { deps } = this;
    const { manifest } = loaded.model;
    // Refuse a collection of another model before its vectors reach an index of the wrong size.
    await assertCollectionModel(catalog, manifest);
    const summary = await deps.store.getCollection(name);
    if (!summary) throw new Error(`Collection "${name}" vanished while opening`);
    this.#ids.set(name, summary.id);
    const index = await deps.openVectors(summary, manifest.dimension, catalog);
    const collection = new Collection(catalog, index, manifest, name);
    try {
      const audit = await collection.audit();
      if (audit.pending + audit.missingVectors + audit.orphanVectors > 0)
        deps.log?.warn(
          { ...audit, collection: name },
          'repaired entries a crash left between the stores'
        );
      const jobs = new IndexJobs({
        collection,
        store: deps.store.jobStore(),
        decoder: loaded.decoder,
        embedder: loaded.embedder,
        roots: deps.roots,
        batchSize: deps.batchSize,
        log: deps.log,
        collectionName: name,
        leaseMs: deps.jobLeaseMs,
        // Every folder a job starts for is a Library folder of the collection.
        onStart: (folder) => catalog.recordFolder(folder.path, folder.recursive)
      });
      const interrupted = await jobs.init();
      if (interrupted > 0)
        deps.log?.warn(
          { interrupted, collection: name },
          'index jobs interrupted by the last shutdown'
        );
      return {
        name,
        collection,
        library: catalog,
        jobs,
        model: loaded.model,
        embedder: loaded.embedder
      };
    } catch (error) {
      await index.close().catch(() => undefined);
      throw error;
    }
  }
}
