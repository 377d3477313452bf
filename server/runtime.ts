import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config';
import { Embedder } from './embedding/embedder';
import type { ImageDecoder } from './embedding/image-decoder';
import { createOnnxNodeBackend } from './embedding/onnx-node-backend';
import { SharpImageDecoder } from './embedding/sharp-decoder';
import { resolveModel, type ActiveModel } from './models/resolve-model';
import { assertCollectionModel, Collection } from './services/collection';
import { ImageRoots } from './services/image-roots';
import { IndexJobs } from './services/index-jobs';
import { StoreUnavailableError } from './errors';
import { isStoreUnavailable, retryWhileUnavailable } from './stores/availability';
import type { Catalog } from './stores/catalog';
import type { JobStore } from './stores/job-store';
import { MilvusVectorIndex } from './stores/milvus/milvus-index';
import { MysqlCatalog } from './stores/mysql/mysql-catalog';
import { SqliteCatalog } from './stores/sqlite/sqlite-catalog';
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
 * MySQL when MYSQL_URL is set, else SQLite in the data directory. The catalog's `jobStore()` is
 * the job store on the same database.
 */
export async function openCatalog(
  config: Config,
  log?: Logger
): Promise<SqliteCatalog | MysqlCatalog> {
  if (!config.mysqlUrl) return SqliteCatalog.open(join(config.dataDir, 'catalog.db'));
  const url = config.mysqlUrl;
  return openWithRetry('MySQL', () => MysqlCatalog.open(url), log);
}

/**
 * Milvus when MILVUS_ADDRESS is set, else the in-process HNSW index, whose snapshot is named after
 * the catalog it mirrors (ids differ between catalogs, so one snapshot never serves another).
 */
export async function openVectorIndex(
  config: Config,
  dimension: number,
  catalog: Catalog,
  log?: Logger
): Promise<VectorIndex> {
  if (config.milvusAddress) {
    const address = config.milvusAddress;
    return openWithRetry(
      'Milvus',
      () =>
        MilvusVectorIndex.open({
          address,
          token: config.milvusToken,
          username: config.milvusUser,
          password: config.milvusPassword,
          ssl: config.milvusTls,
          database: config.milvusDatabase,
          collection: config.milvusCollection,
          dimension,
          indexType: config.milvusIndexType
        }),
      log
    );
  }
  const name = config.mysqlUrl
    ? `vectors-mysql-${createHash('sha256').update(redactPassword(config.mysqlUrl)).digest('hex').slice(0, 12)}`
    : 'vectors';
  return UsearchVectorIndex.open({
    path: join(config.dataDir, `${name}.usearch`),
    dimension,
    source: catalog,
    onRebuild: (info) => {
      if (info.count > 0) log?.warn(info, 'vector index rebuilt from the catalog');
    }
  });
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
    const catalog = await openCatalog(config, log);
    opened.push(() => catalog.close());
    // With no model chosen, an existing collection keeps the model that built it.
    const built = await catalog.collectionModel();
    const chosen = config.model || config.modelFile ? config : { ...config, model: built?.modelId };
    const embedding = await createEmbeddingRuntime(chosen);
    opened.push(() => embedding.close());
    const { manifest } = embedding.model;
    // Refuse a collection of another model before its vectors reach an index of the wrong size.
    await assertCollectionModel(catalog, manifest);
    const index = await openVectorIndex(config, manifest.dimension, catalog, log);
    opened.push(() => index.close());

    const collection = new Collection(catalog, index, manifest);
    const audit = await collection.audit();
    if (audit.pending + audit.missingVectors + audit.orphanVectors > 0) {
      log?.warn(audit, 'repaired entries a crash left between the stores');
    }
    const roots = await ImageRoots.create(config.imageRoots);
    if (roots.missing.length > 0) {
      log?.warn({ missing: roots.missing }, 'image roots that do not exist are ignored');
    }
    const jobStore = catalog.jobStore();
    const jobs = new IndexJobs({
      collection,
      store: jobStore,
      decoder: embedding.decoder,
      embedder: embedding.embedder,
      roots,
      batchSize: config.batchSize,
      log
    });
    const interrupted = await jobs.init();
    if (interrupted > 0) log?.warn({ interrupted }, 'index jobs interrupted by the last shutdown');

    return {
      ...embedding,
      roots,
      collection,
      jobs,
      jobStore,
      stores: { catalog: catalog.kind, vectors: index.kind },
      async close() {
        // Jobs first: a running job's last record goes to the job store, whose database the
        // collection's catalog closes next.
        await jobs.close();
        await collection.close();
        await embedding.close();
        await unlock();
      }
    };
  } catch (error) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
