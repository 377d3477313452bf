import { realpath, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { components } from '../../src/lib/api/openapi';
import { jsonRequest, startTestServer, writeScenes, type TestServer } from './helpers';

type LibraryFolder = components['schemas']['LibraryFolder'];

const TOKEN = 'library-missing-token';
const admin = { Authorization: `Bearer ${TOKEN}` };

/**
 * A watched folder deleted, moved or unmounted while the server runs: the Library says it is
 * missing (its pictures kept, no failing runs), and watches it again when it is back.
 */
describe('/api/library: a watched folder that goes away and comes back', () => {
  let s: TestServer;
  let share: string;
  let firstRun: string;

  const folder = async (): Promise<LibraryFolder> => {
    const res = await s.app.request('/api/library/folders');
    expect(res.status).toBe(200);
    return ((await res.json()) as { folders: LibraryFolder[] }).folders[0]!;
  };
  /** The folder once `check` holds (the presence check runs every 5 s). */
  const folderWhen = async (check: (f: LibraryFolder) => boolean): Promise<LibraryFolder> => {
    const end = Date.now() + 20_000;
    for (;;) {
      const f = await folder();
      if (check(f) || Date.now() > end) return f;
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  beforeAll(async () => {
    s = await startTestServer({ LOOKALIKE_ADMIN_TOKEN: TOKEN });
    share = join(await realpath(s.imagesRoot), 'share');
    await writeScenes(share, 2, { firstSeed: 51 });
    await s.runtime.library.startWatching();
    const res = await s.app.request(
      '/api/library/folders/watch',
      jsonRequest({ path: share, watched: false }, { method: 'PUT', headers: admin })
    );
    expect(res.status).toBe(404); // not in the Library yet: index it first
    const index = await s.app.request(
      '/api/index',
      jsonRequest({ path: share }, { headers: admin })
    );
    expect(index.status).toBe(202);
    const indexed = await folderWhen((f) => f?.lastRun?.state === 'done');
    expect(indexed.lastRun).toMatchObject({ state: 'done', indexed: 2 });
    firstRun = indexed.lastRun!.jobId;
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('reports it missing with its pictures kept, then watches it again with a catch-up run', async () => {
    const watch = await s.app.request(
      '/api/library/folders/watch',
      jsonRequest({ path: share, watched: true }, { method: 'PUT', headers: admin })
    );
    expect(watch.status).toBe(200);
    // Watching starts with a catch-up run.
    const watching = await folderWhen(
      (f) => f.lastRun?.jobId !== firstRun && f.lastRun?.state === 'done'
    );
    expect(watching.watch).toEqual({ mode: 'events' });
    const lastBefore = watching.lastRun!.jobId;
    expect(lastBefore).not.toBe(firstRun);

    await rename(share, join(s.base, 'unmounted'));
    const gone = await folderWhen((f) => f.watch?.mode === 'missing');
    expect(gone).toMatchObject({
      path: share,
      watched: true,
      pictures: 2,
      watch: {
        mode: 'missing',
        reason: expect.stringMatching(/gone from disk.*pictures are kept/s)
      }
    });
    // No index run was started for the folder while it is gone (it would fail).
    expect(gone.lastRun?.jobId).toBe(lastBefore);

    await rename(join(s.base, 'unmounted'), share);
    const back = await folderWhen(
      (f) =>
        f.watch?.mode === 'events' && f.lastRun?.jobId !== lastBefore && f.lastRun?.state === 'done'
    );
    expect(back.watch).toEqual({ mode: 'events' });
    expect(back.lastRun).toMatchObject({ state: 'done', seen: 2 });
    expect(back.pictures).toBe(2);
  }, 60_000);
});
