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
    createdAt,
    collection: 'default'
  };
}

/** A job of `owner` on `path` in `collection`, leased until `leaseUntil`. */
function owned(
  jobId: string,
  owner: string,
  options: { path?: string; collection?: string; state?: JobRecord['state'] } = {}
): JobRecord {
  return {
    ...job(jobId, options.state ?? 'running', Date.now()),
    path: options.path ?? '/photos',
    collection: options.collection ?? 'default',
    owner,
    leaseUntil: Date.now() + 30_000
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

    it('reads records from before collections and leases as the default collection, unowned', async () => {
      const old: Partial<JobRecord> = job('old', 'running', 1);
      delete old.collection;
      await f.writeRaw('old', 'running', JSON.stringify(old));
      const read = await f.jobs.get('old');
      expect(read).toEqual({ ...old, collection: 'default' });
      expect(read!.owner).toBeUndefined();
      expect(await f.jobs.recent(5, 'default')).toEqual([read]);
      expect(await f.jobs.recent(5, 'other')).toEqual([]);
    });

    it("lists one collection's newest jobs, however many of other collections are newer", async () => {
      await f.jobs.save({ ...job('a1', 'done', 1), collection: 'a' });
      await f.jobs.save({ ...job('a2', 'done', 2), collection: 'a' });
      for (let i = 0; i < 30; i++)
        await f.jobs.save({ ...job(`b${i}`, 'done', 10 + i), collection: 'b' });
      expect((await f.jobs.recent(2, 'a')).map((j) => j.jobId)).toEqual(['a2', 'a1']);
      expect((await f.jobs.recent(1, 'a')).map((j) => j.jobId)).toEqual(['a2']);
      expect((await f.jobs.recent(3, 'b')).map((j) => j.jobId)).toEqual(['b29', 'b28', 'b27']);
      expect(await f.jobs.recent(3)).toHaveLength(3);
    });

    it("reads one collection's jobs by its own column: the newest few of a rare collection, none asked", async () => {
      await f.jobs.save({ ...job('rare1', 'done', 1), collection: 'rare' });
      for (let i = 0; i < 300; i++)
        await f.jobs.save({
          ...job(`busy${i}`, i % 3 ? 'done' : 'failed', 10 + i),
          collection: 'busy'
        });
      await f.jobs.save({ ...job('rare2', 'queued', 1000), collection: 'rare' });
      expect((await f.jobs.recent(5, 'rare')).map((j) => j.jobId)).toEqual(['rare2', 'rare1']);
      expect(await f.jobs.recent(5, 'none')).toEqual([]);
      // Asking for none answers none (the filtering loop of before never ended here).
      expect(await f.jobs.recent(0, 'rare')).toEqual([]);
      expect(await f.jobs.recent(0)).toEqual([]);
      // A lease renewal reads the unfinished jobs (by the state index): the queued one is found.
      expect(await f.jobs.requestCancel('rare2')).toMatchObject({ cancelRequested: true });
      expect(await f.jobs.requestCancel('busy0')).toBeUndefined();
    });

    it('interrupts only the unfinished jobs the caller calls stopped', async () => {
      await f.jobs.save(owned('mine', 'gone-server'));
      await f.jobs.save(owned('theirs', 'live-server'));
      await f.jobs.save(owned('done', 'gone-server', { state: 'done' }));
      expect(await f.jobs.interruptUnfinished((j) => j.owner === 'gone-server')).toBe(1);
      expect((await f.jobs.get('mine'))!.state).toBe('interrupted');
      expect((await f.jobs.get('theirs'))!.state).toBe('running');
      expect((await f.jobs.get('done'))!.state).toBe('done');
    });

    it('starts a folder unless a running job of it is the answer, in one decision', async () => {
      await f.jobs.save(owned('live', 'A'));
      await f.jobs.save(owned('dead', 'B'));
      await f.jobs.save(owned('elsewhere', 'A', { path: '/other' }));
      await f.jobs.save(owned('other-collection', 'A', { collection: 'c2' }));
      const seen: string[] = [];
      const answered = await f.jobs.startUnlessRunning(owned('new', 'C'), (other) => {
        seen.push(other.jobId);
        return other.owner === 'A' ? 'answer' : 'interrupt';
      });
      // Only the same collection and path are judged; an answer records nothing at all.
      expect(seen.sort()).toEqual(['dead', 'live']);
      expect(answered).toMatchObject({ created: false, interrupted: [], job: { jobId: 'live' } });
      expect(await f.jobs.get('new')).toBeUndefined();
      expect((await f.jobs.get('dead'))!.state).toBe('running');

      const started = await f.jobs.startUnlessRunning(owned('new', 'C'), (other) =>
        other.owner === 'A' ? 'keep' : 'interrupt'
      );
      expect(started.created).toBe(true);
      expect(started.interrupted.map((j) => j.jobId)).toEqual(['dead']);
      expect((await f.jobs.get('dead'))!.state).toBe('interrupted');
      expect((await f.jobs.get('live'))!.state).toBe('running');
      expect(await f.jobs.get('new')).toEqual(started.job);
    });

    it('lets concurrent starts of one folder agree on one job', async () => {
      const starts = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          f.jobs.startUnlessRunning(owned(`s${i}`, `server-${i}`), () => 'answer')
        )
      );
      expect(starts.filter((s) => s.created)).toHaveLength(1);
      const winner = starts.find((s) => s.created)!.job.jobId;
      expect(new Set(starts.map((s) => s.job.jobId))).toEqual(new Set([winner]));
      expect((await f.jobs.recent(20)).map((j) => j.jobId)).toEqual([winner]);
    });

    it("saves an owner's job only while it is the owner's and unfinished, keeping a cancel request", async () => {
      const mine = owned('j', 'A');
      await f.jobs.save(mine);
      expect(await f.jobs.saveOwned({ ...mine, seen: 7 })).toEqual({
        saved: true,
        cancelRequested: false
      });
      expect((await f.jobs.get('j'))!.seen).toBe(7);
      expect(await f.jobs.saveOwned({ ...mine, owner: 'B', seen: 9 })).toMatchObject({
        saved: false
      });
      expect((await f.jobs.get('j'))!.seen).toBe(7);

      expect(await f.jobs.requestCancel('j')).toMatchObject({ jobId: 'j', cancelRequested: true });
      expect(await f.jobs.requestCancel('nope')).toBeUndefined();
      expect(await f.jobs.saveOwned({ ...mine, seen: 8 })).toEqual({
        saved: true,
        cancelRequested: true
      });
      expect(await f.jobs.get('j')).toMatchObject({ seen: 8, cancelRequested: true });

      // Taken over: another server marked it interrupted; the old owner writes nothing more.
      await f.jobs.startUnlessRunning(owned('k', 'B'), () => 'interrupt');
      expect((await f.jobs.get('j'))!.state).toBe('interrupted');
      expect(await f.jobs.saveOwned({ ...mine, state: 'done' })).toMatchObject({ saved: false });
      expect((await f.jobs.get('j'))!.state).toBe('interrupted');
      expect(await f.jobs.requestCancel('j')).toBeUndefined();
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
