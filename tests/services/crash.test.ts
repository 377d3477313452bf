import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_MODEL_CACHE } from '../helpers/models';
import { scene } from '../helpers/images';
import { testRuntime } from '../helpers/runtime';

const PICTURES = 120;
let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'lookalike-crash-'));
  await mkdir(join(base, 'photos'));
  await Promise.all(
    Array.from({ length: PICTURES }, async (_, i) =>
      writeFile(
        join(base, 'photos', `p${String(i).padStart(3, '0')}.jpg`),
        await scene(200, 150, i + 1)
      )
    )
  );
});
afterAll(() => rm(base, { recursive: true, force: true }));

it('loses nothing acknowledged and doubles nothing when the process is SIGKILLed mid-job', async () => {
  const dataDir = join(base, 'data');
  const env = {
    ...process.env,
    LOOKALIKE_DATA_DIR: dataDir,
    LOOKALIKE_MODEL: 'synthetic-resnet50',
    LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE,
    LOOKALIKE_IMAGE_ROOTS: base,
    LOOKALIKE_TEST_FOLDER: join(base, 'photos'),
    LOOKALIKE_BATCH_SIZE: '4'
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/fixtures/index-child.ts'], {
    env
  });
  let acknowledged = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const indexed = Number(/^indexed (\d+)/.exec(line)?.[1] ?? NaN);
      if (Number.isNaN(indexed)) return;
      acknowledged = indexed;
      if (indexed >= 24) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((resolve) => child.once('close', resolve));
  expect(child.signalCode).toBe('SIGKILL');
  expect(acknowledged).toBeGreaterThanOrEqual(24);
  expect(acknowledged).toBeLessThan(PICTURES);

  const { runtime, cleanup } = await testRuntime({
    model: 'synthetic-resnet50',
    roots: [base],
    dataDir
  });
  try {
    const [job] = await runtime.jobs.list(1);
    expect(job!.state).toBe('interrupted');
    const count = await runtime.collection.count();
    expect(count).toBeGreaterThanOrEqual(acknowledged);
    // The vector index caught up with the catalog: no path without its vector, no vector without its path.
    expect(await runtime.collection.indexedCount()).toBe(count);
    const images = await runtime.collection.imagesAfter(0, 1000);
    expect(images.every((img) => img.paths.length === 1 && img.state === 'indexed')).toBe(true);

    const rerun = await runtime.jobs.waitFor(
      (await runtime.jobs.start({ path: join(base, 'photos') })).jobId
    );
    expect(rerun.state).toBe('done');
    expect(rerun.unchanged).toBe(count);
    expect(rerun.indexed).toBe(PICTURES - count);
    expect(await runtime.collection.count()).toBe(PICTURES);
    expect(await runtime.collection.indexedCount()).toBe(PICTURES);
  } finally {
    await cleanup();
  }
});
