import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { createApp } from '../../server/http/app';
import { createRuntime, type Runtime } from '../../server/runtime';
import { decodeSnapshot, searchSnapshot } from '../../src/lib/core/snapshot';
import { TEST_MODEL_CACHE } from '../helpers/models';
import { photoCorpus } from '../helpers/photo-corpus';
import { editedQueries, QUALITY_SEED } from '../helpers/photo-edits';
import { realModel } from '../helpers/real-model';
import { jsonRequest } from '../http/helpers';

/**
 * The offline snapshot (int8, src/lib/core/snapshot.ts) against the server's float search, on
 * real vectors: the corpus indexed with the real model by an index job, the snapshot fetched like
 * the page does, and every edited copy of every corpus photo searched both ways. The format's
 * own measurement was on synthetic vectors (bench/snapshot.ts); this is the one that counts.
 */

let runtime: Runtime;
let app: ReturnType<typeof createApp>;
let base: string;

beforeAll(async () => {
  const corpus = photoCorpus();
  const { manifest, path } = await realModel();
  base = await mkdtemp(join(tmpdir(), 'lookalike-quality-snapshot-'));
  const imagesRoot = join(base, 'images');
  await mkdir(imagesRoot);
  const gallery = [...corpus.photos, ...corpus.distractors];
  for (const picture of gallery) {
    const copy = join(imagesRoot, picture.id.replaceAll('/', '__') + extname(picture.path));
    await copyFile(picture.path, copy);
  }
  const config = loadConfig(
    { model: manifest.id, modelFile: path, dataDir: join(base, 'data') },
    {
      LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE,
      LOOKALIKE_IMAGE_ROOTS: imagesRoot,
      LOG_LEVEL: 'silent'
    }
  );
  runtime = await createRuntime(config);
  app = createApp(runtime);
  const started = await app.request('/api/index', jsonRequest({ path: imagesRoot }));
  expect(started.status).toBe(202);
  const { jobId } = (await started.json()) as { jobId: string };
  expect(await runtime.jobs.waitFor(jobId)).toMatchObject({
    state: 'done',
    indexed: gallery.length
  });
}, 300_000);

afterAll(async () => {
  await runtime?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

describe('offline snapshot on real vectors', () => {
  it('agrees with the server on ≥ 9.5 of the top 10 on average over the edited corpus copies', async () => {
    const res = await app.request('/api/index/snapshot');
    expect(res.status).toBe(200);
    const snapshot = decodeSnapshot(await res.arrayBuffer());
    const queries = await editedQueries(photoCorpus().photos, QUALITY_SEED);
    const overlaps: number[] = [];
    let sameFirst = 0;
    for (const query of queries) {
      const vector = await runtime.embedder.embedOne(query.bytes);
      const server = (await runtime.collection.search(vector, 10)).map((h) => h.id);
      const offline = searchSnapshot(snapshot, vector, 10).map((h) => h.id);
      overlaps.push(offline.filter((id) => server.includes(id)).length);
      if (offline[0] === server[0]) sameFirst++;
    }
    const mean = overlaps.reduce((a, b) => a + b, 0) / overlaps.length;
    const report =
      `mean top-10 overlap ${mean.toFixed(3)} over ${queries.length} queries, ` +
      `worst ${Math.min(...overlaps)}, same first result ${sameFirst}/${queries.length}`;
    console.info(`snapshot vs server on real vectors: ${report}`);
    expect(mean, report).toBeGreaterThanOrEqual(9.5);
    // The best match decides what a person sees first: it must not change offline.
    expect(sameFirst / queries.length, report).toBeGreaterThanOrEqual(0.99);
  }, 600_000);
});
