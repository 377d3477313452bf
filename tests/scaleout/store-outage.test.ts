import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../server/stores/catalog';
import { scene } from '../helpers/images';
import { milvusLitePython, PrivateMilvusLite, uniqueCollectionName } from '../helpers/milvus';
import { testRuntime } from '../helpers/runtime';

const PICTURES = 48;
const python = await milvusLitePython();
let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'lookalike-outage-'));
  await mkdir(join(base, 'photos'));
  for (let i = 0; i < PICTURES; i++) {
    await writeFile(join(base, 'photos', `p${i}.jpg`), await scene(160, 120, i + 1));
  }
});
afterAll(() => rm(base, { recursive: true, force: true }));

describe.skipIf(!('python' in python))(
  `an index job while Milvus goes down and comes back${'reason' in python ? ` (skipped: ${python.reason})` : ''}`,
  () => {
    it('pauses with a clear state, resumes by itself, and ends with every picture in both stores', async () => {
      const milvus = await PrivateMilvusLite.start((python as { python: string }).python);
      const { runtime, cleanup } = await testRuntime({
        model: 'synthetic-resnet50',
        roots: [base],
        env: {
          MILVUS_ADDRESS: milvus.address,
          MILVUS_COLLECTION: uniqueCollectionName(),
          LOOKALIKE_BATCH_SIZE: '4'
        }
      });
      try {
        const states: JobRecord['state'][] = [];
        let pausedMessage = '';
        let stopped = false;
        const job = await runtime.jobs.start({ path: join(base, 'photos') });
        runtime.jobs.subscribe(job.jobId, (j) => {
          if (states.at(-1) !== j.state) states.push(j.state);
          if (j.state === 'paused') pausedMessage = j.message ?? '';
          // Take Milvus away once a few batches are durable, bring it back once the job noticed.
          if (!stopped && j.indexed >= 8) {
            stopped = true;
            void milvus.stop('SIGKILL');
          }
          if (j.state === 'paused' && !milvus.running) void milvus.start();
        });
        const done = await runtime.jobs.waitFor(job.jobId);
        expect(stopped).toBe(true);
        expect(states).toContain('paused');
        expect(pausedMessage).toMatch(/unreachable|unavailable/i);
        expect(states.at(-1)).toBe('done');
        expect(states.indexOf('running')).toBeLessThan(states.indexOf('paused'));
        expect(done.indexed).toBe(PICTURES);
        expect(done.failed).toBe(0);
        expect(await runtime.collection.count()).toBe(PICTURES);
        expect(await runtime.collection.indexedCount()).toBe(PICTURES);
        expect(await runtime.collection.audit()).toEqual({
          pending: 0,
          missingVectors: 0,
          orphanVectors: 0,
          checked: true
        });
      } finally {
        await cleanup();
        await milvus.dispose();
      }
    });
  }
);
