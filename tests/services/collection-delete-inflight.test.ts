import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../server/runtime';
import type { OpenCollection } from '../../server/services/collections';
import { CollectionNotFoundError } from '../../server/stores/catalog';
import { writeScenes } from '../http/helpers';
import { testRuntime } from '../helpers/runtime';

/**
 * A request looks its collection up, then works with it (embeds a query, reads a thumbnail's
 * row, writes a batch): another request may delete the collection in between. What the first one
 * then gets is "no such collection" (404 in the API), never a closed store's error (500).
 */
describe('a collection deleted while a request holds it', () => {
  let base: string;
  let root: string;
  let runtime: Runtime;
  let cleanup: () => Promise<void>;
  let scenes: string[];

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'lookalike-delete-inflight-')));
    root = join(base, 'images');
    scenes = await writeScenes(join(root, 'scenes'), 3, { firstSeed: 310 });
    ({ runtime, cleanup } = await testRuntime({ dataDir: join(base, 'data'), roots: [root] }));
  });
  afterAll(async () => {
    await cleanup?.();
    await rm(base, { recursive: true, force: true });
  });

  async function indexed(name: string): Promise<OpenCollection> {
    const open = await runtime.collections.getOrCreate(name);
    const job = await open.jobs.start({ path: join(root, 'scenes') });
    expect(await open.jobs.waitFor(job.jobId)).toMatchObject({ state: 'done', indexed: 3 });
    return open;
  }

  it('answers collection_not_found to calls made after the delete', async () => {
    const open = await indexed('held');
    const query = await open.embedder.embedOne(scenes[0]!);
    const [hit] = await open.collection.search(query, 1);
    expect(await runtime.collections.delete('held')).toBe(true);

    const calls: [string, () => Promise<unknown>][] = [
      ['search', () => open.collection.search(query, 3)],
      ['neighbours', () => open.collection.neighbours(query, 3)],
      ['getImage', () => open.collection.getImage(hit!.id)],
      ['count', () => open.collection.count()],
      ['indexedCount', () => open.collection.indexedCount()],
      ['pathsUnder', () => open.collection.pathsUnder(root)],
      ['flush', () => open.collection.flush()]
    ];
    for (const [name, call] of calls) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e
      );
      expect(error, name).toBeInstanceOf(CollectionNotFoundError);
      expect((error as CollectionNotFoundError).code, name).toBe('collection_not_found');
      expect((error as CollectionNotFoundError).status, name).toBe(404);
    }
  });

  it('lets calls already under way finish before the stores close', async () => {
    const open = await indexed('busy-reads');
    const query = await open.embedder.embedOne(scenes[1]!);
    // Started together with the delete: each either completes with its answer or is 404.
    const searches = Array.from({ length: 20 }, () => open.collection.search(query, 3));
    const deleting = runtime.collections.delete('busy-reads');
    const settled = await Promise.allSettled(searches);
    expect(await deleting).toBe(true);
    for (const result of settled) {
      if (result.status === 'fulfilled') expect(result.value[0]?.path).toBe(scenes[1]);
      else expect(result.reason).toBeInstanceOf(CollectionNotFoundError);
    }
    expect(settled.some((r) => r.status === 'fulfilled')).toBe(true);
  });
});
