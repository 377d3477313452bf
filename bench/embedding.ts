import sharp from 'sharp';
import { buildInputBatch } from '../src/lib/core/preprocess';
import { Embedder } from '../server/embedding/embedder';
import { createOnnxNodeBackend } from '../server/embedding/onnx-node-backend';
import { SharpImageDecoder } from '../server/embedding/sharp-decoder';
import { ensureGeneratedModel } from '../server/models/generate';
import { cachedModelPath, getManifest } from '../server/models/registry';

export interface Row {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

/** Photo-like 1024×768 JPEGs (smooth colour fields plus noise), the size a phone gallery shrinks to. */
async function photos(count: number): Promise<Buffer[]> {
  const width = 1024;
  const height = 768;
  return Promise.all(
    Array.from({ length: count }, (_, n) => {
      const px = new Uint8Array(width * height * 3);
      let s = n + 1;
      for (let i = 0; i < px.length; i++) {
        s = (s * 1103515245 + 12345) & 0x7fffffff;
        const p = i / 3;
        const wave =
          128 + 90 * Math.sin(((p % width) * (n + 3)) / 200 + Math.floor(p / width) / 97 + (i % 3));
        px[i] = Math.max(0, Math.min(255, wave + ((s >> 24) - 64) / 4));
      }
      return sharp(px, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 85 })
        .toBuffer();
    })
  );
}

async function timeIt(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up
  const started = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return (performance.now() - started) / runs;
}

/**
 * Server-side embedding throughput with the synthetic ResNet-50 (same graph and cost as the real
 * one): the model alone at several batch sizes, decoding alone, and the whole pipeline, so the
 * pipeline can be read as a fraction of the model-only rate measured in the same run.
 */
export async function benchEmbedding(cacheDir: string, threads: number): Promise<Row[]> {
  const manifest = getManifest('synthetic-resnet50');
  const path = await ensureGeneratedModel(manifest, cachedModelPath(cacheDir, manifest));
  const images = await photos(32);
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
