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
import { SqliteCatalog } from './stores/sqlite/sqlite-catalog';
import { UsearchVectorIndex } from './stores/usearch-index';

/**
 * The composition root: the one module that picks concrete adapters (onnxruntime-node, sharp,
 * SQLite, usearch; Milvus and MySQL join here). Everything else depends on the interfaces.
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
  /** Facts for /api/health. */
  stores: { catalog: string; vectors: string };
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

/** Everything `serve`, `index`, `search` and friends need, on the embedded default stores. */
export async function createRuntime(config: Config, log?: Logger): Promise<Runtime> {
  const catalog = await SqliteCatalog.open(join(config.dataDir, 'catalog.db'));
  let embedding: EmbeddingRuntime | undefined;
  try {
    // With no model chosen, an existing collection keeps the model that built it.
    const built = await catalog.collectionModel();
    const chosen = config.model || config.modelFile ? config : { ...config, model: built?.modelId };
    embedding = await createEmbeddingRuntime(chosen);
    // Refuse a collection of another model before its vectors reach an index of the wrong size.
    await assertCollectionModel(catalog, embedding.model.manifest);
  } catch (error) {
    await embedding?.close();
    await catalog.close();
    throw error;
  }
  const roots = await ImageRoots.create(config.imageRoots);
  if (roots.missing.length > 0)
    log?.warn({ missing: roots.missing }, 'image roots that do not exist are ignored');

  const { manifest } = embedding.model;
  const index = await UsearchVectorIndex.open({
    path: join(config.dataDir, 'vectors.usearch'),
    dimension: manifest.dimension,
    source: catalog,
    onRebuild: (info) => {
      if (info.count > 0) log?.warn(info, 'vector index rebuilt from the catalog');
    }
  });
  const collection = new Collection(catalog, index, manifest);
  try {
    const { repaired } = await collection.open();
    if (repaired > 0) log?.warn({ repaired }, 'repaired entries a crash left between the stores');
  } catch (error) {
    await index.close();
    await catalog.close();
    await embedding.close();
    throw error;
  }
  const jobs = new IndexJobs({
    collection,
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
    stores: { catalog: catalog.kind, vectors: index.kind },
    async close() {
      await jobs.close();
      await collection.close();
      await embedding.close();
    }
  };
}
