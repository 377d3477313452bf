import type { Config } from './config';
import { createOnnxNodeBackend } from './embedding/onnx-node-backend';
import { Embedder } from './embedding/embedder';
import { SharpImageDecoder } from './embedding/sharp-decoder';
import { resolveModel, type ActiveModel } from './models/resolve-model';

/**
 * The composition root: the one module that picks concrete adapters (onnxruntime-node, sharp; the
 * stores join here later). Everything else depends on the interfaces.
 */
export interface Runtime {
  config: Config;
  model: ActiveModel;
  embedder: Embedder;
  close(): Promise<void>;
}

export async function createRuntime(config: Config): Promise<Runtime> {
  const model = await resolveModel(config);
  const decoder = new SharpImageDecoder({
    maxPixels: config.maxPixels,
    maxFileBytes: config.maxFileBytes
  });
  const backend = await createOnnxNodeBackend(model.path, model.manifest, {
    threads: config.threads
  });
  const embedder = new Embedder(model.manifest, decoder, backend, config.batchSize);
  return { config, model, embedder, close: () => embedder.close() };
}
