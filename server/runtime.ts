import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config';
import { Embedder } from './embedding/embedder';
import type { ImageDecoder } from './embedding/image-decoder';
import { createOnnxNodeBackend } from './embedding/onnx-node-backend';
import { SharpImageDecoder } from './embedding/sharp-decoder';
import { resolveModel, type ActiveModel } from './models/resolve-model';
import type { Collection } from './services/collection';
import { Collections } from './services/collections';
import { ImageRoots } from './services/image-roots';
import type { IndexJobs } from './services/index-jobs';
import { Library } from './services/library';
import { StoreUnavailableError } from './errors';
import { isStoreUnavailable, retryWhileUnavailable } from './stores/availability';
import type { Catalog, CatalogStore } from './stores/catalog';
import { DEFAULT_COLLECTION } from './stores/collection-names';
import type { JobStore } from './stores/job-store';
import { milvusCollectionName, MilvusVectorIndex } from './stores/milvus/milvus-index';
import { MysqlCatalog, MysqlCatalogStore } from './stores/mysql/mysql-catalog';
import { SqliteCatalog, SqliteCatalogStore } from './stores/sqlite/sqlite-catalog';
import { lockDataDir } from './data-dir-lock';
import type { VectorIndex } from './stores/vector-index';
import { UsearchVectorIndex } from './stores/usearch-index';

/**
 * The composition root: the one module that picks concrete adapters (onnxruntime-node, sharp,
 * SQLite or MySQL, usearch or Milvus). Everything else depends on the interfaces.
 */
export interface EmbeddingRuntime {
  config: Config;
  model: ActiveModel;
  decoder: ImageDecoder;
  embedder: Embedder;
  close(): Promise<void>;
}

export interface Runtime extends EmbeddingRuntime {
  roots: ImageRoots;
  collection: Collection;
  jobs: IndexJobs;
  /** Every named collection; `collection`, `jobs`, `model` and `embedder` are the default one's. */
  collections: Collections;
  /** Every collection's Library folders; `serve` starts its watches (startWatching). */
  library: Library;
  /** The job history (in the catalog's database; closed with it). */
  jobStore: JobStore;
  /** Facts for /api/health. */
  stores: { catalog: string; vectors: string };
}

/** Start-up waits this long in total (with backoff) for a store that is not up yet. */
const STARTUP_ATTEMPTS = 8;

/** Opens a store, waiting with backoff while it is unreachable; then fails with one clear line. */
async function openWithRetry<T>(what: string, open: () => Promise<T>, log?: Logger): Promise<T> {
  const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));
  try {
    return await retryWhileUnavailable(open, {
      attempts: STARTUP_ATTEMPTS,
      onWait: (error, delayMs) =>
        log?.warn(
          { reason: reason(error), retryInMs: delayMs },
          `${what} unreachable at start-up; retrying`
        )
    });
  } catch (error) {
    if (!isStoreUnavailable(error) || error instanceof StoreUnavailableError) throw error;
    throw new StoreUnavailableError(
      `${what} is still unreachable after ${STARTUP_ATTEMPTS} tries: ${reason(error)}`
    );
  }
}

/**
 * The default collection's catalog alone: MySQL when MYSQL_URL is set, else SQLite in the data
 * directory. The catalog's `jobStore()` is the job store on the same database.
 */
export async function openCatalog(
  config: Config,
  log?: Logger
): Promise<SqliteCatalog | MysqlCatalog> {
  if (!config.mysqlUrl) return SqliteCatalog.open(join(config.dataDir, 'catalog.db'));
  const url = config.mysqlUrl;
  return openWithRetry('MySQL', () => MysqlCatalog.open(url), log);
}

/** Every collection's catalog: MySQL when MYSQL_URL is set, else SQLite in the data directory. */
export async function openCatalogStore(config: Config, log?: Logger): Promise<CatalogStore> {
  if (!config.mysqlUrl) return SqliteCatalogStore.open(join(config.dataDir, 'catalog.db'));
  const url = config.mysqlUrl;
  return openWithRetry('MySQL', () => MysqlCatalogStore.open(url), log);
}

/** Which collection a vector index serves: the default one keeps the names of before. */
export interface VectorIndexOwner {
  id: number;
  name: string;
}

const defaultOwner = { id: 0, name: DEFAULT_COLLECTION } satisfies VectorIndexOwner;

function milvusOptions(config: Config, owner: VectorIndexOwner) {
  return {
    address: config.milvusAddress!,
    token: config.milvusToken,
    username: config.milvusUser,
    password: config.milvusPassword,
    ssl: config.milvusTls,
    database: config.milvusDatabase,
    collection:
      owner.name === DEFAULT_COLLECTION
        ? config.milvusCollection
        : milvusCollectionName(config.milvusPrefix, owner.name)
  };
}

/**
 * The embedded index file of a collection, named after the catalog it mirrors (ids differ between
 * catalogs, so one file never serves another) and, beyond the default collection, after the
 * collection's id: ids are never reused, so a collection deleted and created again starts afresh.
 */
export function usearchPath(config: Config, owner: VectorIndexOwner): string {
  const catalog = config.mysqlUrl
    ? `vectors-mysql-${createHash('sha256').update(redactPassword(config.mysqlUrl)).digest('hex').slice(0, 12)}`
    : 'vectors';
  const name = owner.name === DEFAULT_COLLECTION ? catalog : `${catalog}-c${owner.id}`;
  return join(config.dataDir, `${name}.usearch`);
}

/**
 * Milvus when MILVUS_ADDRESS is set (one Milvus collection per Lookalike collection), else the
 * in-process HNSW index (one file per collection, see usearchPath).
 */
export async function openVectorIndex(
  config: Config,
  dimension: number,
  catalog: Catalog,
  log?: Logger,
  owner: VectorIndexOwner = defaultOwner
): Promise<VectorIndex> {
  if (config.milvusAddress) {
    const options = milvusOptions(config, owner);
    return openWithRetry(
      'Milvus',
      () => MilvusVectorIndex.open({ ...options, dimension, indexType: config.milvusIndexType }),
      log
    );
  }
  return UsearchVectorIndex.open({
    path: usearchPath(config, owner),
    dimension,
    source: catalog,
    onRebuild: (info) => {
      if (info.count > 0)
        log?.warn({ ...info, collection: owner.name }, 'vector index rebuilt from the catalog');
    }
  });
}

/** Deletes a deleted collection's vectors: its Milvus collection, or its index file. */
export async function dropVectorIndex(config: Config, owner: VectorIndexOwner): Promise<void> {
  if (config.milvusAddress) await MilvusVectorIndex.drop(milvusOptions(config, owner));
  else await UsearchVectorIndex.removeFiles(usearchPath(config, owner));
}

function redactPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

/** What `embed` needs: the model and the decoder, no stores. */
export async function createEmbeddingRuntime(config: Config): Promise<EmbeddingRuntime> {
  const model = await resolveModel(config);
  const decoder = new SharpImageDecoder({
    maxPixels: config.maxPixels,
    maxFileBytes: config.maxFileBytes
  });
  const backend = await createOnnxNodeBackend(model.path, model.manifest, {
    threads: config.threads
  });
  const embedder = new Embedder(model.manifest, decoder, backend, config.batchSize);
  return { config, model, decoder, embedder, close: () => embedder.close() };
}

/** Everything `serve`, `index`, `search` and friends need, on the configured stores. */
export async function createRuntime(config: Config, log?: Logger): Promise<Runtime> {
  // What is open so far, closed in reverse order if a later step fails.
  const opened: (() => Promise<unknown>)[] = [];
  try {
    const unlock = await lockDataDir(config.dataDir);
    opened.push(unlock);
    const store = await openCatalogStore(config, log);
    opened.push(() => store.close());
    // With no model chosen, an existing collection keeps the model that built it.
    const built = (await store.getCollection(DEFAULT_COLLECTION))?.model;
    const chosen = config.model || config.modelFile ? config : { ...config, model: built?.modelId };
    const embedding = await createEmbeddingRuntime(chosen);
    opened.push(() => embedding.close());
    const roots = await ImageRoots.create(config.imageRoots);
    if (roots.missing.length > 0) {
      log?.warn({ missing: roots.missing }, 'image roots that do not exist are ignored');
    }
    let vectorsKind = config.milvusAddress ? 'milvus' : 'usearch-hnsw';
    const collections = new Collections({
      store,
      roots,
      batchSize: config.batchSize,
      jobLeaseMs: config.jobLeaseMs,
      log,
      // Another collection's model: any the server can resolve, from the cache or generated.
      loadModel: (modelId) =>
        createEmbeddingRuntime({ ...config, model: modelId, modelFile: undefined }),
      openVectors: async (summary, dimension, catalog) => {
        const index = await openVectorIndex(config, dimension, catalog, log, summary);
        vectorsKind = index.kind;
        return index;
      },
      dropVectors: (summary) => dropVectorIndex(config, summary)
    });
    // From here the collections close the model (and every other one they load).
    opened.pop();
    opened.push(() => collections.close());
    const main = await collections.adoptDefault(embedding);
    const library = new Library({
      collections,
      roots,
      log,
      watch: {
        pollMs: config.watchPollMs,
        maxFolders: config.watchMaxFolders,
        maxDirectories: config.watchMaxDirs
      }
    });

    return {
      ...embedding,
      roots,
      collection: main.collection,
      jobs: main.jobs,
      collections,
      library,
      jobStore: store.jobStore(),
      stores: { catalog: store.kind, vectors: vectorsKind },
      async close() {
        // Watches first: a change seen now would start a run on a collection being closed.
        // Then jobs (the collections stop them): a running job's last record goes to the job
        // store, in the database closed next.
        library.close();
        await collections.close();
        await store.close();
        await unlock();
      }
    };
  } catch (error) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
