import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { writeScenes } from '../http/helpers';
import { testRuntime } from '../helpers/runtime';

const base = await realpath(await mkdtemp(join(tmpdir(), 'lookalike-runtime-close-')));
afterAll(() => rm(base, { recursive: true, force: true }));

it('closing the runtime stops every folder watch before the stores close', async () => {
  const photos = join(base, 'photos');
  await writeScenes(photos, 2, { firstSeed: 3 });
  const { runtime, cleanup } = await testRuntime({ roots: [base] });
  try {
    const open = runtime.collections.defaultCollection;
    const job = await open.jobs.start({ path: photos });
    await open.jobs.waitFor(job.jobId);
    await runtime.library.setWatched(open, photos, true);
    await runtime.library.startWatching();
    expect(runtime.library.watchDirectories).toBeGreaterThan(0);

    await runtime.close();
    // Watches left open would keep starting runs (and re-reading the list) on closed stores.
    expect(runtime.library.watchDirectories).toBe(0);
  } finally {
    await cleanup();
  }
}, 60_000);
