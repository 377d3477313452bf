import { buildInputBatch } from '#core/preprocess';
import { Embedder } from '../server/embedding/embedder';
import { createOnnxNodeBackend } from '../server/embedding/onnx-node-backend';
import { SharpImageDecoder } from '../server/embedding/sharp-decoder';
import { resolveModel } from '../server/models/resolve-model';
import { photoJpeg } from './photos';

export interface Row {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

async function timeIt(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up
  const started = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return (performance.now() - started) / runs;
}

/**
 * Server-side embedding throughput with the synthetic ResNet-50 (same graph and cost as the real
 * one) unless another cached model is named: the model alone at several batch sizes, decoding
 * alone, and the whole pipeline, so the pipeline can be read as a fraction of the model-only rate
 * measured in the same run.
 */
export async function benchEmbedding(
  cacheDir: string,
  threads: number,
  modelId = 'synthetic-resnet50'
): Promise<Row[]> {
  const { manifest, path } = await resolveModel({ model: modelId, modelCacheDir: cacheDir });
  const images = await Promise.all(Array.from({ length: 32 }, (_, n) => photoJpeg(n)));
  const decoder = new SharpImageDecoder({ maxPixels: 100_000_000, maxFileBytes: 1e9 });
  const backend = await createOnnxNodeBackend(path, manifest, { threads });
  const rows: Row[] = [];

  const decoded = await Promise.all(images.map((img) => decoder.decode(img, manifest)));
  let bestModelRate = 0;
  for (const batch of [1, 8, 16]) {
    const { data, dims } = buildInputBatch(
      decoded.slice(0, batch).map((d) => d.pixels),
      manifest
    );
    const ms = await timeIt(batch === 1 ? 20 : 4, () => backend.run(data, dims));
    const rate = (batch * 1000) / ms;
    bestModelRate = Math.max(bestModelRate, rate);
    rows.push({
      name: `model only, batch ${batch}`,
      value: ms / batch,
      unit: 'ms/img',
      note: `${rate.toFixed(1)} img/s`
    });
  }

  const sequentialDecode = await timeIt(1, async () => {
    for (const img of images) await decoder.decode(img, manifest);
  });
  rows.push({
    name: 'decode+resize 1024×768 JPEG, one at a time',
    value: sequentialDecode / images.length,
    unit: 'ms/img'
  });
  const parallelDecode = await timeIt(1, () =>
    Promise.all(images.map((img) => decoder.decode(img, manifest)))
  );
  rows.push({
    name: 'decode+resize, 32 in flight',
    value: parallelDecode / images.length,
    unit: 'ms/img',
    note: `${((images.length * 1000) / parallelDecode).toFixed(0)} img/s`
  });

  for (const batch of [8, 16]) {
    const embedder = new Embedder(manifest, decoder, backend, batch);
    const inputs = images.map((bytes, i) => ({ name: String(i), bytes }));
    const ms = await timeIt(2, () => embedder.embedMany(inputs));
    const rate = (images.length * 1000) / ms;
    rows.push({
      name: `full pipeline (decode ∥ model), batch ${batch}`,
      value: ms / images.length,
      unit: 'ms/img',
      note: `${rate.toFixed(1)} img/s = ${((100 * rate) / bestModelRate).toFixed(0)}% of model-only`
    });
  }
  await backend.close();
  return rows;
}
