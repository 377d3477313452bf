import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app';
import type { Runtime } from '../../server/runtime';
import { findDuplicates } from '../../server/services/duplicates';
import { generateFolder, type GeneratedFolder } from '../helpers/folders';
import { testMilvus, uniqueCollectionName } from '../helpers/milvus';
import { dropDatabase, mysqlReachable, mysqlTestUrl } from '../helpers/mysql';
import { testRuntime } from '../helpers/runtime';

const mysqlUp = await mysqlReachable();
const milvus = await testMilvus();
const milvusUp = milvus.address !== undefined;
afterAll(() => (milvus.address ? milvus.stop() : undefined));

/** What one store combination answers for the same folder, to compare with the embedded default. */
interface Observed {
  count: number;
  job: { seen: number; indexed: number; skipped: number; failed: number };
  topOne: Record<string, string>;
  seedProgress: string;
  seedCount: number;
  seedSearchFirst: [string, number];
  /** Duplicate groups as sorted path lists with their reason (ids differ between catalogs). */
  duplicates: string[];
  countAfterDrop: number;
  stores: { catalog: string; vectors: string };
}

let base: string;
let folder: GeneratedFolder;
let embedded: Observed;

async function observe(env: Record<string, string>): Promise<Observed> {
  const { runtime, cleanup } = await testRuntime({ roots: [base], env });
  try {
    const job = await runtime.jobs.waitFor((await runtime.jobs.start({ path: folder.root })).jobId);
    const topOne: Record<string, string> = {};
    for (const rel of folder.good) {
      const [hit] = await runtime.collection.search(
        await runtime.embedder.embedOne(join(folder.root, rel)),
        1
      );
      const image = await runtime.collection.getImage(hit!.id);
      expect(image!.paths, rel).toContain(join(folder.root, rel));
      topOne[rel] = image!.contentHash;
    }
    const seed = await seedFlow(runtime);
    const groups = await findDuplicates(runtime.collection, { threshold: 0.95 });
    const duplicates = groups
      .map(
        (g) =>
          `${g.reason}: ${g.members
            .flatMap((m) => m.paths)
            .sort()
            .join(' | ')}`
      )
      .sort();
    const count = await runtime.collection.count();
    const app = createApp(runtime);
    expect(await (await app.request('/img/drop', { method: 'POST' })).json()).toBe('ok');
    return {
      count,
      duplicates,
      countAfterDrop: await runtime.collection.count(),
      job: { seen: job.seen, indexed: job.indexed, skipped: job.skipped, failed: job.failed },
      topOne,
      ...seed,
      stores: runtime.stores
    };
  } finally {
    await cleanup();
  }
}

/** The bootcamp's own sequence through the bootcamp-compatible endpoints (after the API index job). */
async function seedFlow(runtime: Runtime) {
  const app = createApp(runtime);
  const load = await app.request('/img/load', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ File: folder.root, Recursive: true })
  });
  expect(load.status).toBe(200);
  const seedProgress = (await (await app.request('/progress')).json()) as string;
  const seedCount = (await (await app.request('/img/count', { method: 'POST' })).json()) as number;
  const form = new FormData();
  const { readFile } = await import('node:fs/promises');
  form.set('image', new Blob([await readFile(join(folder.root, 'img2.png'))]), 'img2.png');
  const search = await app.request('/img/search', { method: 'POST', body: form });
  const pairs = (await search.json()) as [string, number][];
  return { seedProgress, seedCount, seedSearchFirst: pairs[0]! };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'lookalike-mix-'));
  folder = await generateFolder(join(base, 'photos'));
  embedded = await observe({});
});
afterAll(() => rm(base, { recursive: true, force: true }));

const combos = [
  { name: 'embedded vectors + MySQL', mysql: true, milvus: false },
  { name: 'Milvus + SQLite', mysql: false, milvus: true },
  { name: 'Milvus + MySQL', mysql: true, milvus: true }
];

for (const combo of combos) {
  const reachable = (!combo.mysql || mysqlUp) && (!combo.milvus || milvusUp);
  describe.skipIf(!reachable)(
    `${combo.name} (skipped: ${!mysqlUp ? 'MySQL' : ''}${!milvusUp ? ' Milvus' : ''} unreachable)`,
    () => {
      it('gives the same results as the embedded default on the same folder', async () => {
        const url = combo.mysql ? mysqlTestUrl() : undefined;
        const env: Record<string, string> = {};
        if (url) env.MYSQL_URL = url;
        if (combo.milvus) {
          env.MILVUS_ADDRESS = milvus.address!;
          env.MILVUS_COLLECTION = uniqueCollectionName();
        }
        try {
          const seen = await observe(env);
          expect(seen.stores).toEqual({
            catalog: combo.mysql ? 'mysql' : 'sqlite',
            vectors: combo.milvus ? 'milvus' : 'usearch-hnsw'
          });
          expect(seen.count).toBe(folder.distinct);
          expect({ ...seen, stores: undefined }).toEqual({ ...embedded, stores: undefined });
        } finally {
          if (url) await dropDatabase(url);
        }
      });
    }
  );
}

it('checked the embedded default itself', () => {
  expect(embedded.count).toBe(folder.distinct);
  expect(embedded.seedProgress).toBe(`current: ${embedded.job.seen}, total: ${embedded.job.seen}`);
  expect(embedded.seedCount).toBe(folder.distinct);
  expect(embedded.seedSearchFirst[0]).toBe(join(folder.root, 'img2.png'));
  expect(embedded.seedSearchFirst[1]).toBeLessThan(1e-3);
  // The generated folder has an exact copy and a resized re-encode of picture 0.
  expect(
    embedded.duplicates.some((d) => d.startsWith('same-bytes:') && d.includes('exact copy.jpg'))
  ).toBe(true);
  expect(embedded.duplicates.some((d) => d.includes('resized.webp'))).toBe(true);
  expect(embedded.countAfterDrop).toBe(0);
});
