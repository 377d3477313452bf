import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../server/runtime';
import type { JobEvent } from '../../server/services/index-jobs';
import { testRuntime } from '../helpers/runtime';
import { writeScenes } from '../http/helpers';

describe('IndexJobs.follow', () => {
  let base: string;
  let runtime: Runtime;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'lookalike-follow-'));
    await mkdir(join(base, 'mixed'));
    for (let i = 0; i < 120; i++)
      await writeFile(join(base, 'mixed', `bad-${i}.txt`), `not a picture ${i}\n`);
    await writeScenes(join(base, 'mixed'), 8, { firstSeed: 40 });
    ({ runtime, cleanup } = await testRuntime({
      roots: [base],
      env: { LOOKALIKE_BATCH_SIZE: '4' }
    }));
  });
  afterAll(async () => {
    await cleanup();
    await rm(base, { recursive: true, force: true });
  });

  it('hands every follower the same event objects, built once', async () => {
    const embedder = runtime.embedder;
    const original = embedder.embedPixels.bind(embedder);
    embedder.embedPixels = async (images) => {
      await new Promise((r) => setTimeout(r, 30)); // a few events' worth of time per batch
      return original(images);
    };
    try {
      const job = await runtime.jobs.start({ path: join(base, 'mixed') });
      const followers = await Promise.all([1, 2, 3].map(() => runtime.jobs.follow(job.jobId)));
      const received = await Promise.all(
        followers.map(async (events) => {
          const all: JobEvent[] = [];
          for await (const event of events) all.push(event);
          return all;
        })
      );
      // All three read as fast as events come: they see the very same objects.
      const [first, ...others] = received;
      for (const other of others) {
        expect(other.length).toBe(first!.length);
        other.forEach((event, i) => expect(event).toBe(first![i]));
      }
      const errors = first!.flatMap((e) => (e.type === 'errors' ? e.errors : []));
      expect(errors.map((e) => e.path)).toEqual(
        (await runtime.jobs.get(job.jobId))!.errors.map((e) => e.path)
      );
      expect(errors).toHaveLength(120);
      expect(first!.at(-1)).toMatchObject({ type: 'progress', job: { state: 'done' } });
    } finally {
      embedder.embedPixels = original;
    }
  });

  it('keeps only the latest progress for a follower that does not read', async () => {
    const job = await runtime.jobs.start({ path: join(base, 'mixed') });
    const idle = await runtime.jobs.follow(job.jobId, { errorsFrom: 1_000_000 });
    await runtime.jobs.waitFor(job.jobId);
    // Nothing read while the job ran: what is left is its current state, then the end.
    const left: JobEvent[] = [];
    for await (const event of idle) left.push(event);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ type: 'progress', job: { state: 'done' } });
  });
});
