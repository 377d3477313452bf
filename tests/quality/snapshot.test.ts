import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../server/runtime';
import { decodeSnapshot, searchSnapshot } from '#core/snapshot';
import { indexedCorpus, type IndexedCorpus } from '../helpers/indexed-corpus';
import { photoCorpus } from '../helpers/photo-corpus';
import { editedQueries, QUALITY_SEED } from '../helpers/photo-edits';

/**
 * The offline snapshot (int8, core/snapshot.ts) against the server's float search, on
 * real vectors: the corpus indexed with the real model by an index job, the snapshot fetched like
 * the page does, and every edited copy of every corpus photo searched both ways. The format's
 * own measurement was on synthetic vectors (bench/snapshot.ts); this is the one that counts.
 */

let indexed: IndexedCorpus;
let runtime: Runtime;
let app: IndexedCorpus['app'];

beforeAll(async () => {
  indexed = await indexedCorpus('lookalike-quality-snapshot-');
  ({ runtime, app } = indexed);
  expect(indexed.job).toMatchObject({ state: 'done', indexed: indexed.idOfPath.size });
}, 300_000);

afterAll(() => indexed?.close());

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
