import { existsSync } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usearchPath } from '../../server/runtime';
import { writeScenes } from '../http/helpers';
import { dropDatabase, mysqlReachable, mysqlTestUrl } from '../helpers/mysql';
import { testRuntime } from '../helpers/runtime';

// The fast tier runs no store servers: only the full run.
const mysqlUp = process.env.LOOKALIKE_TEST_TIER !== 'fast' && (await mysqlReachable());

/**
 * Two servers on one MySQL catalog, each with its own data directory and so its own usearch
 * index file per collection. When one deletes a collection, the other notices (within its 2 s
 * re-check) and removes its own index file of it: ids are never reused, so the file would only
 * ever be litter.
 */
describe.skipIf(!mysqlUp)('a collection deleted by another server on the same MySQL', () => {
  const url = mysqlTestUrl();
  let base: string;
  let root: string;
  let pictures: string[];

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'lookalike-deleted-elsewhere-')));
    root = join(base, 'images');
    pictures = await writeScenes(join(root, 'pics'), 3, { firstSeed: 410 });
  });
  afterAll(async () => {
    await dropDatabase(url).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  });

  it("removes this server's index file of it, and opens the new one of that name", async () => {
    const env = { MYSQL_URL: url };
    const one = await testRuntime({ dataDir: join(base, 'one'), roots: [root], env });
    const two = await testRuntime({ dataDir: join(base, 'two'), roots: [root], env });
    try {
      const here = await one.runtime.collections.getOrCreate('shared');
      const job = await here.jobs.start({ path: join(root, 'pics') });
      expect(await here.jobs.waitFor(job.jobId)).toMatchObject({ state: 'done', indexed: 3 });

      const there = await two.runtime.collections.get('shared');
      const [hit] = await there!.collection.search(await there!.embedder.embedOne(pictures[1]!), 1);
      expect(hit?.path).toBe(pictures[1]);
      const summary = (await two.runtime.collections.list()).find((s) => s.name === 'shared')!;
      const twoFile = usearchPath(two.config, summary);
      expect(twoFile.startsWith(join(base, 'two'))).toBe(true);
      await two.runtime.collections.get('shared').then((open) => open!.collection.flush());
      expect(existsSync(twoFile)).toBe(true);

      expect(await one.runtime.collections.delete('shared')).toBe(true);
      // An open collection is trusted for up to 2 s before the catalog is asked again.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect(await two.runtime.collections.get('shared')).toBeUndefined();
      expect(existsSync(twoFile)).toBe(false);
      expect(existsSync(`${twoFile}.json`)).toBe(false);

      // A collection of the same name is another collection, with an id (and file) of its own.
      await one.runtime.collections.getOrCreate('shared');
      const again = await two.runtime.collections.get('shared');
      expect(await again!.collection.count()).toBe(0);
      const newer = (await two.runtime.collections.list()).find((s) => s.name === 'shared')!;
      expect(newer.id).not.toBe(summary.id);
    } finally {
      await two.cleanup();
      await one.cleanup();
    }
  });
});
