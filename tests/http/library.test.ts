import { copyFile, mkdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { components } from '../../src/lib/api/openapi';
import { errorOf, jsonRequest, startTestServer, writeScenes, type TestServer } from './helpers';

type LibraryFolder = components['schemas']['LibraryFolder'];

const TOKEN = 'library-admin-token';
const admin = { Authorization: `Bearer ${TOKEN}` };
const EVIL = { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' };

describe('/api/library', () => {
  let s: TestServer;
  let photos: string;
  let spare: string[];

  const folders = async (query = '') => {
    const res = await s.app.request(`/api/library/folders${query}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { folders: LibraryFolder[] }).folders;
  };
  const waitForJob = async (jobId: string) => {
    for (;;) {
      const job = (await (await s.app.request(`/api/index/${jobId}`)).json()) as { state: string };
      if (['done', 'failed', 'cancelled', 'interrupted'].includes(job.state)) return job;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    s = await startTestServer({ LOOKALIKE_ADMIN_TOKEN: TOKEN });
    photos = join(await realpath(s.imagesRoot), 'photos');
    await writeScenes(photos, 2, { firstSeed: 1 });
    spare = await writeScenes(join(s.base, 'spare'), 1, { firstSeed: 30 });
    await s.runtime.library.startWatching();
    const res = await s.app.request(
      '/api/index',
      jsonRequest({ path: photos }, { headers: admin })
    );
    expect(res.status).toBe(202);
    await waitForJob(((await res.json()) as { jobId: string }).jobId);
  }, 60_000);

  afterAll(async () => {
    await s?.close();
  });

  it('lists the folders with pictures, last run and watch flag', async () => {
    const [folder] = await folders();
    expect(folder).toMatchObject({ path: photos, pictures: 2, watched: false, recursive: true });
    expect(folder!.lastRun).toMatchObject({ state: 'done', indexed: 2 });
    expect(folder!.watch).toBeUndefined();
    const missing = await s.app.request('/api/library/folders?collection=nope');
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).error.code).toBe('collection_not_found');
  });

  it('needs the admin token and refuses cross-site writes', async () => {
    const writes: [string, RequestInit][] = [
      ['/api/library/folders/reindex', jsonRequest({ path: photos })],
      [
        '/api/library/folders/watch',
        jsonRequest({ path: photos, watched: true }, { method: 'PUT' })
      ],
      [`/api/library/folders?path=${encodeURIComponent(photos)}`, { method: 'DELETE' }]
    ];
    for (const [path, init] of writes) {
      expect((await s.app.request(path, init)).status, path).toBe(401);
      const crossSite = await s.app.request(path, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), ...admin, ...EVIL }
      });
      expect((await errorOf(crossSite)).error.code, path).toBe('cross_site_refused');
    }
    expect((await folders())[0]).toMatchObject({ watched: false, pictures: 2 });
  });

  it('re-indexes a folder; a path not in the Library is 404', async () => {
    const res = await s.app.request(
      '/api/library/folders/reindex',
      jsonRequest({ path: photos }, { headers: admin })
    );
    expect(res.status).toBe(202);
    const job = await waitForJob(((await res.json()) as { jobId: string }).jobId);
    expect(job).toMatchObject({ state: 'done', unchanged: 2 });
    const outside = await s.app.request(
      '/api/library/folders/reindex',
      jsonRequest({ path: s.base }, { headers: admin })
    );
    expect(outside.status).toBe(404);
    const invalid = await s.app.request(
      '/api/library/folders/watch',
      jsonRequest({ path: photos, watched: 'yes' }, { method: 'PUT', headers: admin })
    );
    expect(invalid.status).toBe(400);
  }, 30_000);

  it('watches a folder: a copied picture is indexed within seconds', async () => {
    const res = await s.app.request(
      '/api/library/folders/watch',
      jsonRequest({ path: photos, watched: true }, { method: 'PUT', headers: admin })
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      path: photos,
      watched: true,
      watch: { mode: 'events' }
    });
    await mkdir(join(photos, 'new'));
    await copyFile(spare[0]!, join(photos, 'new', 'copied.jpg'));
    const start = Date.now();
    while ((await folders())[0]!.pictures < 3) {
      expect(Date.now() - start).toBeLessThan(15_000);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  it('removes a folder from the collection', async () => {
    const res = await s.app.request(`/api/library/folders?path=${encodeURIComponent(photos)}`, {
      method: 'DELETE',
      headers: admin
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ files: 3, pictures: 3 });
    expect(await folders()).toEqual([]);
    expect(await s.runtime.collection.count()).toBe(0);
    const again = await s.app.request(`/api/library/folders?path=${encodeURIComponent(photos)}`, {
      method: 'DELETE',
      headers: admin
    });
    expect(again.status).toBe(404);
  }, 30_000);
});
