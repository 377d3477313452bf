import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { loadConfig } from '../../server/config';
import { createApp } from '../../server/http/app';
import type { JobRecord } from '../../server/stores/catalog';
import { createRuntime, type Runtime } from '../../server/runtime';
import { jsonRequest } from '../http/helpers';
import { TEST_MODEL_CACHE } from './models';
import { photoCorpus, type PhotoCorpus } from './photo-corpus';
import { realModel } from './real-model';

export interface IndexedCorpus {
  corpus: PhotoCorpus;
  runtime: Runtime;
  app: ReturnType<typeof createApp>;
  /** Path in the collection → corpus id. */
  idOfPath: Map<string, string>;
  /** The finished index job, for the caller's own expectations. */
  job: JobRecord;
  close(): Promise<void>;
}

/**
 * The corpus (photos and distractors) copied into a fresh image root and indexed with the real
 * model by an index job started over HTTP — the product's own path, shared by the quality tests.
 */
export async function indexedCorpus(prefix: string): Promise<IndexedCorpus> {
  const corpus = photoCorpus();
  const { manifest, path } = await realModel();
  const base = await mkdtemp(join(tmpdir(), prefix));
  const imagesRoot = join(base, 'images');
  await mkdir(imagesRoot);
  const idOfPath = new Map<string, string>();
  for (const picture of [...corpus.photos, ...corpus.distractors]) {
    const copy = join(imagesRoot, picture.id.replaceAll('/', '__') + extname(picture.path));
    await copyFile(picture.path, copy);
    idOfPath.set(copy, picture.id);
  }
  const config = loadConfig(
    { model: manifest.id, modelFile: path, dataDir: join(base, 'data') },
    {
      LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE,
      LOOKALIKE_IMAGE_ROOTS: imagesRoot,
      LOG_LEVEL: 'silent'
    }
  );
  const runtime = await createRuntime(config);
  const close = async () => {
    await runtime.close();
    await rm(base, { recursive: true, force: true });
  };
  try {
    const app = createApp(runtime);
    const started = await app.request('/api/index', jsonRequest({ path: imagesRoot }));
    if (started.status !== 202) throw new Error(`POST /api/index answered ${started.status}`);
    const { jobId } = (await started.json()) as { jobId: string };
    const job = await runtime.jobs.waitFor(jobId);
    return { corpus, runtime, app, idOfPath, job, close };
  } catch (error) {
    await close();
    throw error;
  }
}
