import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, imageForm, startTestServer, writeScenes, type TestServer } from './helpers';

/**
 * A search by picture looks its collection up, then encodes the picture (tens of ms), then
 * searches: a DELETE of the collection lands in between. The search answers its results or 404
 * `collection_not_found` in the API's error shape, never a 500.
 */
describe('DELETE /api/collections/{name} during a search of it', () => {
  let s: TestServer;
  let scenes: string[];

  beforeAll(async () => {
    s = await startTestServer();
    scenes = await writeScenes(join(await realpath(s.imagesRoot), 'race'), 2, { firstSeed: 610 });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('answers the search 200 or 404, never 500', async () => {
    const bytes = await readFile(scenes[0]!);
    const statuses: number[] = [];
    for (let round = 0; round < 4; round++) {
      const open = await s.runtime.collections.getOrCreate('race');
      const job = await open.jobs.start({ path: join(await realpath(s.imagesRoot), 'race') });
      expect(await open.jobs.waitFor(job.jobId)).toMatchObject({ state: 'done' });
      const searching = s.app.request('/api/search/image?collection=race', {
        method: 'POST',
        body: imageForm(bytes, { topK: '2' })
      });
      // Let the search look the collection up and start encoding, then delete it.
      await new Promise((r) => setTimeout(r, 1));
      const deleted = await s.app.request('/api/collections/race', { method: 'DELETE' });
      expect(deleted.status).toBe(200);
      const res = await searching;
      statuses.push(res.status);
      if (res.status !== 200)
        expect((await errorOf(res)).error.code, `round ${round}`).toBe('collection_not_found');
    }
    expect(statuses.every((status) => status === 200 || status === 404)).toBe(true);
  });
});
