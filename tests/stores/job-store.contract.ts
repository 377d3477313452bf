import { beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../../server/stores/catalog';
import type { JobRecord, JobStore } from '../../server/stores/job-store';
import { newImage } from './catalog.contract';

export function job(jobId: string, state: JobRecord['state'], createdAt: number): JobRecord {
  return {
    jobId,
    state,
    path: '/photos',
    recursive: true,
    seen: 3,
    indexed: 2,
    unchanged: 0,
    skipped: 1,
    failed: 0,
    removed: 0,
    errors: [{ path: '/photos/x.txt', reason: 'Not an image' }],
    createdAt
  };
}

export interface JobStoreFixture {
  jobs: JobStore;
  /** The catalog in the same database. */
  catalog: Catalog;
  /** Writes a job row behind the store's back, with this raw record text. */
  writeRaw(jobId: string, state: string, record: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** The behaviour every JobStore (SQLite, MySQL) must share. */
export function describeJobStoreContract(name: string, create: () => Promise<JobStoreFixture>) {
  describe(`JobStore contract: ${name}`, () => {
    let f: JobStoreFixture;
    beforeEach(async () => {
      f = await create();
      return async () => f.cleanup();
    });

    it('keeps job records and marks unfinished ones interrupted', async () => {
      await f.jobs.save(job('a', 'done', 1));
      await f.jobs.save(job('b', 'running', 2));
      await f.jobs.save(job('c', 'queued', 3));
      await f.jobs.save(job('d', 'paused', 4));
      expect(await f.jobs.interruptUnfinished()).toBe(3);
      expect(await f.jobs.interruptUnfinished()).toBe(0);
      const recent = await f.jobs.recent(10);
      expect(recent.map((j) => [j.jobId, j.state])).toEqual([
        ['d', 'interrupted'],
        ['c', 'interrupted'],
        ['b', 'interrupted'],
        ['a', 'done']
      ]);
      expect((await f.jobs.get('b'))!.message).toMatch(/run it again/);
      expect((await f.jobs.get('b'))!.finishedAt).toBeGreaterThan(0);
      expect(await f.jobs.get('a')).toEqual(job('a', 'done', 1));
      expect(await f.jobs.get('nope')).toBeUndefined();
    });

    it('replaces a job on save, and lists the newest first, ties by id', async () => {
      await f.jobs.save(job('x', 'queued', 5));
      const finished = { ...job('x', 'done', 5), total: 3, finishedAt: 9, message: 'ok' };
      await f.jobs.save(finished);
      expect(await f.jobs.get('x')).toEqual(finished);
      await f.jobs.save(job('y', 'done', 5));
      await f.jobs.save(job('w', 'done', 7));
      expect((await f.jobs.recent(10)).map((j) => j.jobId)).toEqual(['w', 'y', 'x']);
      expect((await f.jobs.recent(1)).map((j) => j.jobId)).toEqual(['w']);
      expect(await f.jobs.interruptUnfinished()).toBe(0);
    });

    it('is not collection content: no revision change, and a clear keeps it', async () => {
      await f.catalog.addImages([newImage(1, '/p/a.jpg')]);
      const revision = await f.catalog.contentRevision();
      await f.jobs.save(job('j', 'running', 1));
      await f.jobs.interruptUnfinished();
      expect(await f.catalog.contentRevision()).toBe(revision);
      await f.catalog.clear();
      expect((await f.jobs.get('j'))!.state).toBe('interrupted');
    });

    it('refuses a stored record that is not a job, naming it', async () => {
      await f.writeRaw('bad-json', 'done', '{"jobId":');
      await f.writeRaw(
        'bad-shape',
        'running',
        JSON.stringify({ jobId: 'bad-shape', state: 'odd' })
      );
      await expect(f.jobs.get('bad-json')).rejects.toThrow(/job bad-json is not JSON/);
      await expect(f.jobs.get('bad-shape')).rejects.toThrow(/job bad-shape is not a job/);
      await expect(f.jobs.recent(10)).rejects.toThrow(/is not/);
      await expect(f.jobs.interruptUnfinished()).rejects.toThrow(/job bad-shape is not a job/);
    });
  });
}
