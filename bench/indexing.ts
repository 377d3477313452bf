import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { differenceHash } from '#core/dhash';
import { buildInputBatch } from '#core/preprocess';
import { loadConfig } from '../server/config';
import { createOnnxNodeBackend } from '../server/embedding/onnx-node-backend';
import { ModelUnavailableError, resolveModel } from '../server/models/resolve-model';
import { createRuntime, openCatalog, type Runtime } from '../server/runtime';
import type { NewImage } from '../server/stores/catalog';
import type { Row } from './embedding';
import { photoJpeg } from './photos';

/** One indexing measurement: a model over `count` generated JPEGs of one size. */
export interface IndexingCase {
  modelId: string;
  count: number;
  width: number;
  height: number;
}

/**
 * The default cases: both models over 600 VOC-sized (500×375) and 600 1024×768 JPEGs.
 * LOOKALIKE_BENCH_INDEX_MODELS, _SIZES (e.g. `500x375,1024x768`) and _COUNT narrow them.
 */
export function defaultIndexingCases(env = process.env): IndexingCase[] {
  const models = (env.LOOKALIKE_BENCH_INDEX_MODELS ?? 'synthetic-resnet50,efficientnet-lite0')
    .split(',')
    .filter(Boolean);
  const sizes = (env.LOOKALIKE_BENCH_INDEX_SIZES ?? '500x375,1024x768')
    .split(',')
    .map((s) => s.split('x').map(Number) as [number, number]);
  const count = Number(env.LOOKALIKE_BENCH_INDEX_COUNT ?? 600);
  return sizes.flatMap(([width, height]) =>
    models.map((modelId) => ({ modelId, count, width, height }))
  );
}

/** Generated photos are kept between runs (generating 600 costs more CPU than indexing them). */
const PHOTO_CACHE = resolve(import.meta.dirname, '../.cache/bench-photos');

/** A folder holding exactly `count` deterministic photos of the size, made once. */
export async function photoFolder(width: number, height: number, count: number) {
  const dir = join(PHOTO_CACHE, `${width}x${height}-${count}`);
  await mkdir(dir, { recursive: true });
  const have = new Set(await readdir(dir));
  for (let n = 0; n < count; n++) {
    const name = photoName(n);
    if (!have.has(name)) await writeFile(join(dir, name), await photoJpeg(n, width, height));
  }
  return { dir, files: Array.from({ length: count }, (_, n) => join(dir, photoName(n))) };
}
const photoName = (n: number) => `photo${String(n).padStart(4, '0')}.jpg`;

/** CPU time of the whole process (every thread: libvips' and onnxruntime's too), in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** The steps an index job spends CPU on, each measured alone over the same files. */
const STEPS = {
  read: 'open + read (roots check, one read per file)',
  sha256: 'SHA-256',
  lookups: 'catalog look-ups (path, then hash, per file)',
  decode: 'decode + resize (sharp)',
  dhash: 'dHash (from the decoded pixels)',
  inference: 'inference (tensor, model, pooling)',
  write: 'catalog + vector index write (per batch)'
} as const;
type Step = keyof typeof STEPS;

/**
 * Runs each step of indexing alone, batch by batch as the indexer does, on a fresh collection,
 * and returns the CPU ms each took in total: these add up to what a job needs, minus its own
 * bookkeeping ("other").
 */
async function stepCosts(runtime: Runtime, files: readonly string[]) {
  const { decoder, embedder, collection, roots, config } = runtime;
  // Its own connection to the collection's catalog, for the indexer's look-ups.
  const catalog = await openCatalog(config);
  const manifest = runtime.model.manifest;
  const costs = Object.fromEntries(Object.keys(STEPS).map((s) => [s, 0])) as Record<Step, number>;
  const measure = async <T>(step: Step, work: () => Promise<T> | T): Promise<T> => {
    const started = cpuMs();
    const result = await work();
    costs[step] += cpuMs() - started;
    return result;
  };
  for (let i = 0; i < files.length; i += config.batchSize) {
    const chunk = files.slice(i, i + config.batchSize);
    const infos = await Promise.all(chunk.map((f) => stat(f)));
    await measure('lookups', () => Promise.all(chunk.map((f) => catalog.getPath(f))));
    const bytes = await measure('read', () =>
      Promise.all(
        chunk.map(async (f) => {
          const opened = (await roots.openFile(f))!;
          return decoder.read(opened.handle).finally(() => opened.handle.close());
        })
      )
    );
    const hashes = await measure('sha256', () =>
      bytes.map((b) => createHash('sha256').update(b).digest('hex'))
    );
    await measure('lookups', () => Promise.all(hashes.map((h) => catalog.findImageByHash(h))));
    const decoded = await measure('decode', () =>
      Promise.all(bytes.map((b) => decoder.decode(b, manifest)))
    );
    const { width, height } = manifest.input;
    const dhashes = await measure('dhash', () =>
      decoded.map((d) => differenceHash(d.pixels, width, height))
    );
    const vectors = await measure('inference', () =>
      embedder.embedPixels(decoded.map((d) => d.pixels))
    );
    const images: NewImage[] = decoded.map((d, k) => ({
      contentHash: hashes[k]!,
      width: d.width,
      height: d.height,
      bytes: bytes[k]!.length,
      format: d.format,
      dhash: dhashes[k]!,
      vector: vectors[k]!,
      file: { path: chunk[k]!, size: infos[k]!.size, mtimeMs: infos[k]!.mtimeMs }
    }));
    await measure('write', () => collection.addImages(images));
  }
  await catalog.close();
  return costs;
}

/**
 * The model alone on prepared input tensors at the indexer's batch size, for about `ms`: the
 * speed an index job is judged against. Returns images/s and CPU ms per image.
 */
async function modelOnly(
  run: (data: Float32Array, dims: readonly number[]) => Promise<unknown>,
  tensors: readonly { data: Float32Array; dims: number[] }[],
  ms: number
) {
  await run(tensors[0]!.data, tensors[0]!.dims); // warm-up
  let images = 0;
  const cpu0 = cpuMs();
  const started = performance.now();
  for (let i = 0; performance.now() - started < ms || i < tensors.length; i++) {
    const t = tensors[i % tensors.length]!;
    await run(t.data, t.dims);
    images += t.dims[0]!;
  }
  const wall = performance.now() - started;
  return { rate: (images * 1000) / wall, cpuPerImage: (cpuMs() - cpu0) / images };
}

async function openRuntime(c: IndexingCase, cacheDir: string, threads: number, root: string) {
  const dataDir = await mkdtemp(join(tmpdir(), 'lookalike-bench-index-'));
  const config = loadConfig(
    { model: c.modelId, dataDir, threads },
    { LOOKALIKE_MODEL_CACHE: cacheDir, LOOKALIKE_IMAGE_ROOTS: root, LOG_LEVEL: 'silent' }
  );
  const runtime = await createRuntime(config);
  return {
    runtime,
    close: async () => {
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  };
}

/** Seconds the model-only measurement runs before and after the job (LOOKALIKE_BENCH_MODEL_MS). */
const MODEL_ONLY_MS = Number(process.env.LOOKALIKE_BENCH_MODEL_MS ?? 5000);

async function benchCase(c: IndexingCase, cacheDir: string, threads: number): Promise<Row[]> {
  const label = `${c.modelId} ${c.width}×${c.height}`;
  const progress = (what: string) => console.error(`[indexing] ${label}: ${what}`);
  const { dir, files } = await photoFolder(c.width, c.height, c.count);

  progress('steps alone');
  const steps = await openRuntime(c, cacheDir, threads, dir);
  const costs = await stepCosts(steps.runtime, files).finally(() => steps.close());

  const { runtime, close } = await openRuntime(c, cacheDir, threads, dir);
  try {
    const { manifest, path } = runtime.model;
    const { batchSize } = runtime.config;
    // Model only: the same session options as the runtime's, on tensors of the first files.
    const backend = await createOnnxNodeBackend(path, manifest, { threads });
    const sample = await Promise.all(
      files.slice(0, 8 * batchSize).map((f) => runtime.decoder.decode(f, manifest))
    );
    const tensors: { data: Float32Array; dims: number[] }[] = [];
    for (let i = 0; i < sample.length; i += batchSize) {
      const batch = sample.slice(i, i + batchSize).map((d) => d.pixels);
      if (batch.length === batchSize) tensors.push(buildInputBatch(batch, manifest));
    }
    const run = (data: Float32Array, dims: readonly number[]) => backend.run(data, dims);

    const load = [loadavg()[0]!];
    progress('model only (before)');
    const before = await modelOnly(run, tensors, MODEL_ONLY_MS);
    progress('index job');
    const cpu0 = cpuMs();
    const t0 = performance.now();
    const job = await runtime.jobs.waitFor((await runtime.jobs.start({ path: dir })).jobId);
    const jobWall = performance.now() - t0;
    const jobCpu = cpuMs() - cpu0;
    progress('model only (after)');
    const after = await modelOnly(run, tensors, MODEL_ONLY_MS);
    await backend.close();
    const t1 = performance.now();
    const again = await runtime.jobs.waitFor((await runtime.jobs.start({ path: dir })).jobId);
    const rescanMs = performance.now() - t1;
    load.push(loadavg()[0]!);
    if (job.indexed !== c.count || again.unchanged !== c.count)
      throw new Error(`indexing benchmark lost images: ${JSON.stringify(job)}`);

    const modelRate = (before.rate + after.rate) / 2;
    const indexRate = (c.count * 1000) / jobWall;
    const ratio = indexRate / modelRate;
    const perImage = (ms: number) => ms / c.count;
    const stepSum = Object.values(costs).reduce((a, b) => a + b, 0);
    const rows: Row[] = [
      {
        name: `${label}: model only (batch ${batchSize}, prepared tensors)`,
        value: modelRate,
        unit: 'img/s',
        note: `before the job ${before.rate.toFixed(1)}, after ${after.rate.toFixed(1)}; ${before.cpuPerImage.toFixed(2)} CPU ms/img`
      },
      {
        name: `${label}: index ${c.count} new JPEGs (index job)`,
        value: indexRate,
        unit: 'img/s',
        note: `${jobWall.toFixed(0)} ms`
      },
      {
        name: `${label}: index job / model only`,
        value: ratio,
        unit: '',
        note: `images/s, target ≥ 0.85 (ResNet-50); load average ${load.map((l) => l.toFixed(1)).join(' → ')} on ${availableParallelism()} cores`
      },
      {
        name: `${label}: CPU per image, model only / index job`,
        value: (before.cpuPerImage + after.cpuPerImage) / 2 / perImage(jobCpu),
        unit: '',
        note: 'the ratio a CPU-bound job reaches; less swayed by other processes than images/s'
      }
    ];
    for (const [step, what] of Object.entries(STEPS)) {
      rows.push({
        name: `${label}: CPU ${what}`,
        value: perImage(costs[step as Step]),
        unit: 'ms/img',
        note: `${((100 * costs[step as Step]) / jobCpu).toFixed(1)}% of the job's CPU`
      });
    }
    rows.push(
      {
        name: `${label}: CPU other (job − steps: walk, job records, scheduling)`,
        value: perImage(jobCpu - stepSum),
        unit: 'ms/img',
        note: `${((100 * (jobCpu - stepSum)) / jobCpu).toFixed(1)}% of the job's CPU`
      },
      {
        name: `${label}: CPU index job, total`,
        value: perImage(jobCpu),
        unit: 'ms/img',
        note: `steps alone sum to ${perImage(stepSum).toFixed(2)}; ${threads} cores × wall = ${perImage(threads * jobWall).toFixed(2)} (${((100 * jobCpu) / (threads * jobWall)).toFixed(0)}% busy)`
      },
      { name: `${label}: re-scan ${c.count} unchanged files`, value: rescanMs, unit: 'ms' }
    );
    return rows;
  } finally {
    await close();
  }
}

/**
 * Indexing throughput (walk, read, hash, decode, embed, commit) through the real index job,
 * against the model alone on prepared tensors in the same run, with the CPU each step costs.
 * A model that is not installed (the real one needs importing) is left out with a note.
 */
export async function benchIndexing(
  cacheDir: string,
  threads: number,
  cases: readonly IndexingCase[] = defaultIndexingCases()
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of cases) {
    try {
      await resolveModel({ model: c.modelId, modelCacheDir: cacheDir });
    } catch (error) {
      if (!(error instanceof ModelUnavailableError)) throw error;
      rows.push({ name: `${c.modelId}: left out`, value: 0, unit: '', note: error.message });
      continue;
    }
    rows.push(...(await benchCase(c, cacheDir, threads)));
  }
  return rows;
}
