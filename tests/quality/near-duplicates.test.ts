import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../server/runtime';
import type { SearchResponse } from '../../src/lib/api/types';
import { imageForm, jsonRequest } from '../http/helpers';
import { indexedCorpus, type IndexedCorpus } from '../helpers/indexed-corpus';
import { photoCorpus, type Category, type CorpusPicture } from '../helpers/photo-corpus';
import { EDIT_KINDS, editedQueries, QUALITY_SEED, type EditedQuery } from '../helpers/photo-edits';

/**
 * Search quality on real photographs, through the product's own path: the pictures are indexed by
 * an index job into SQLite + usearch, and queried over HTTP like the web app does. The thresholds
 * hold for the real ImageNet model and fail for the synthetic one (random weights), so a change
 * that breaks preprocessing, pooling or the index shows up here even when every unit test passes.
 * Measured numbers are in bench/README.md ("Search quality").
 */

let indexed: IndexedCorpus;
let runtime: Runtime;
let app: IndexedCorpus['app'];
let photos: CorpusPicture[];
/** Path in the collection → corpus id. */
let idOfPath: Map<string, string>;
let queries: EditedQuery[];

beforeAll(async () => {
  const corpus = photoCorpus();
  photos = corpus.photos;
  const [ready, edited] = await Promise.all([
    indexedCorpus('lookalike-quality-'),
    editedQueries(corpus.photos, QUALITY_SEED)
  ]);
  indexed = ready;
  ({ runtime, app, idOfPath } = indexed);
  expect(indexed.job).toMatchObject({ state: 'done', indexed: idOfPath.size, failed: 0 });
  queries = edited;
});

afterAll(() => indexed?.close());

async function inParallel<T>(n: number, items: readonly T[], run: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await run(items[i]!);
  };
  await Promise.all(Array.from({ length: n }, worker));
}

const idsOf = (body: SearchResponse) => body.results.map((r) => idOfPath.get(r.path) ?? r.path);

describe('near-duplicate search on real photographs', () => {
  it('finds the original first for ≥ 95 % of edited copies (recall@1), ≥ 80 % for every edit', async () => {
    const hits = new Map<string, number>(EDIT_KINDS.map((k) => [k, 0]));
    const misses: string[] = [];
    // Two requests in flight, as the server's encode limiter allows: one decodes while one infers.
    await inParallel(2, queries, async (query) => {
      const res = await app.request('/api/search/image', {
        method: 'POST',
        body: imageForm(query.bytes, { topK: '10' })
      });
      expect(res.status).toBe(200);
      const ids = idsOf((await res.json()) as SearchResponse);
      if (ids[0] === query.of) hits.set(query.kind, hits.get(query.kind)! + 1);
      else {
        const rank = ids.indexOf(query.of) + 1 || '>10';
        misses.push(`${query.of} ${query.kind} (${query.detail}): rank ${rank}, got ${ids[0]}`);
      }
    });
    const perKind = Object.fromEntries([...hits].map(([kind, n]) => [kind, n / photos.length]));
    const recall = (queries.length - misses.length) / queries.length;
    const report = `recall@1 ${recall.toFixed(3)}; per edit ${JSON.stringify(perKind)}; misses:\n${misses.join('\n')}`;
    expect(queries).toHaveLength(photos.length * EDIT_KINDS.length);
    expect(recall, report).toBeGreaterThanOrEqual(0.95);
    for (const kind of EDIT_KINDS) expect(perKind[kind], report).toBeGreaterThanOrEqual(0.8);
  }, 600_000);

  it('ranks pictures of the same kind of scene next: precision@5 ≥ 0.45, ≥ 3× chance per category', async () => {
    const labelled = photos.filter((p) => p.category);
    const categoryOf = new Map(labelled.map((p) => [p.id, p.category]));
    const precision = new Map<Category, number[]>();
    for (const photo of labelled) {
      const vector = Array.from(await runtime.embedder.embedOne(photo.path));
      const res = await app.request('/api/search', jsonRequest({ vector, topK: 6 }));
      expect(res.status).toBe(200);
      const ids = idsOf((await res.json()) as SearchResponse);
      expect(ids[0]).toBe(photo.id);
      const same = ids.slice(1).filter((id) => categoryOf.get(id) === photo.category).length;
      precision.set(photo.category!, [...(precision.get(photo.category!) ?? []), same / 5]);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // What picking 5 of the other indexed pictures at random would score.
    const chance = (xs: number[]) => (xs.length - 1) / (idOfPath.size - 1);
    const perCategory = Object.fromEntries(
      [...precision].map(([c, xs]) => [c, { precision: mean(xs), chance: chance(xs) }])
    );
    const overall = mean([...precision.values()].flat());
    const report = `precision@5 ${overall.toFixed(3)}, per category ${JSON.stringify(perCategory)}`;
    expect(Object.keys(perCategory).sort()).toEqual(['animal', 'landscape', 'plant']);
    expect(overall, report).toBeGreaterThanOrEqual(0.45);
    for (const { precision, chance } of Object.values(perCategory)) {
      expect(precision, report).toBeGreaterThanOrEqual(3 * chance);
    }
  });
});
