import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../server/config';
import { createRuntime } from '../server/runtime';
import type { Row } from './embedding';
import { photoJpeg } from './photos';

async function writePhotos(dir: string, count: number) {
  await mkdir(dir, { recursive: true });
  for (let n = 0; n < count; n++) await writeFile(join(dir, `photo${n}.jpg`), await photoJpeg(n));
}

/**
 * Indexing throughput (walk, read, hash, decode, embed, commit) against the model alone on the
 * same machine in the same run: the pipeline should reach ≥ 90% of model-only images/s.
 */
export async function benchIndexing(
  cacheDir: string,
  threads: number,
  count = 160,
  modelId = 'synthetic-resnet50'
): Promise<Row[]> {
  const base = await mkdtemp(join(tmpdir(), 'lookalike-bench-index-'));
  try {
    await writePhotos(join(base, 'photos'), count);
    const config = loadConfig(
      { model: modelId, dataDir: join(base, 'data'), threads },
      { LOOKALIKE_MODEL_CACHE: cacheDir, LOOKALIKE_IMAGE_ROOTS: base, LOG_LEVEL: 'silent' }
    );
    const runtime = await createRuntime(config);
    const { manifest } = runtime.model;
    const decoded = await runtime.decoder.decode(join(base, 'photos/photo0.jpg'), manifest);
    const batch = Array.from({ length: config.batchSize }, () => decoded.pixels);
    await runtime.embedder.embedPixels(batch); // warm-up
    const modelRuns = Math.ceil(count / config.batchSize);
    const t0 = performance.now();
    for (let i = 0; i < modelRuns; i++) await runtime.embedder.embedPixels(batch);
    const modelRate = (modelRuns * config.batchSize * 1000) / (performance.now() - t0);

    const t1 = performance.now();
    const job = await runtime.jobs.waitFor(
      (await runtime.jobs.start({ path: join(base, 'photos') })).jobId
    );
    const indexMs = performance.now() - t1;
    const indexRate = (job.indexed * 1000) / indexMs;
    const t2 = performance.now();
    const again = await runtime.jobs.waitFor(
      (await runtime.jobs.start({ path: join(base, 'photos') })).jobId
    );
    const rescanMs = performance.now() - t2;
    await runtime.close();
    if (job.indexed !== count || again.unchanged !== count)
      throw new Error('indexing benchmark lost images');
    return [
      { name: `model only (batch ${config.batchSize})`, value: modelRate, unit: 'img/s' },
      {
        name: `index ${count} new 1024×768 JPEGs`,
        value: indexRate,
        unit: 'img/s',
        note: `${((100 * indexRate) / modelRate).toFixed(0)}% of model-only (target ≥ 90%)`
      },
      { name: `re-scan ${count} unchanged files`, value: rescanMs, unit: 'ms' }
    ];
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
