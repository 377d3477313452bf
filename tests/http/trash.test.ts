import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRASH_FOLDER } from '../../server/services/trash';
import { scene } from '../helpers/images';
import { errorOf, indexAndWait, jsonRequest, startTestServer, type TestServer } from './helpers';

/** /api/trash over HTTP: the admin token, foreign pages refused, errors in the common shape. */

const TOKEN = 'trash-test-token';
const bearer = { authorization: `Bearer ${TOKEN}` };
let s: TestServer;
let a: string;
let b: string;

interface Entry {
  id: string;
  originalPath: string;
  trashPath: string;
}

beforeAll(async () => {
  s = await startTestServer({ LOOKALIKE_ADMIN_TOKEN: TOKEN });
  a = join(s.imagesRoot, 'a.jpg');
  b = join(s.imagesRoot, 'b.jpg');
  await writeFile(a, await scene(120, 90, 1));
  await writeFile(b, await scene(120, 90, 2));
  expect((await indexAndWait(s.app, s.imagesRoot, bearer)).state).toBe('done');
}, 60_000);
afterAll(() => s.close());

const moveToTrash = (paths: string[], headers: Record<string, string> = bearer) =>
  s.app.request('/api/trash', jsonRequest({ paths }, { headers }));

describe('/api/trash', () => {
  it('refuses a foreign page and a missing token, and moves nothing', async () => {
    const foreign = await moveToTrash([a], { ...bearer, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect((await errorOf(foreign)).error.code).toBe('cross_site_refused');
    const crossSite = await moveToTrash([a], { ...bearer, 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    const noToken = await moveToTrash([a], {});
    expect(noToken.status).toBe(401);
    expect(await stat(a)).toBeTruthy();
    expect(await s.runtime.collection.getPath(a)).toBeDefined();
  });

  it('moves, lists and restores; a taken place is 409 and an unknown entry 404', async () => {
    const bytes = await readFile(a);
    const moved = await moveToTrash([a], { ...bearer, 'sec-fetch-site': 'same-origin' });
    expect(moved.status, await moved.clone().text()).toBe(200);
    const [entry] = ((await moved.json()) as { trashed: Entry[] }).trashed;
    expect(entry!.trashPath).toBe(join(s.imagesRoot, TRASH_FOLDER, 'files', 'a.jpg'));
    const list = (await (await s.app.request('/api/trash')).json()) as {
      entries: Entry[];
      unreadable: string[];
    };
    expect(list.entries.map((e) => e.originalPath)).toEqual([a]);
    expect(list.unreadable).toEqual([]);

    // Something else took the place: 409, and the trashed file stays.
    await writeFile(a, 'not the picture');
    const restore = () =>
      s.app.request(`/api/trash/${entry!.id}/restore`, { method: 'POST', headers: bearer });
    const taken = await restore();
    expect(taken.status).toBe(409);
    expect((await errorOf(taken)).error.code).toBe('path_taken');
    expect(await readFile(entry!.trashPath)).toEqual(bytes);

    await rm(a);
    const restored = await restore();
    expect(restored.status, await restored.clone().text()).toBe(200);
    const body = (await restored.json()) as { path: string; id: number; thumbUrl: string };
    expect(body.path).toBe(a);
    expect(await readFile(a)).toEqual(bytes);
    expect((await s.app.request(body.thumbUrl)).status).toBe(200);

    const unknown = await s.app.request('/api/trash/0123456789abcdef/restore', {
      method: 'POST',
      headers: bearer
    });
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).error.code).toBe('not_found');
  });

  it('refuses a file another collection indexes too (409), and moves nothing', async () => {
    const shared = join(s.imagesRoot, 'shared');
    const file = join(shared, 's.jpg');
    await mkdir(shared);
    await writeFile(file, await scene(120, 90, 7));
    expect((await indexAndWait(s.app, shared, bearer)).state).toBe('done');
    const started = await s.app.request(
      '/api/index?collection=second',
      jsonRequest({ path: shared }, { headers: bearer })
    );
    expect(started.status, await started.clone().text()).toBe(202);
    const { jobId } = (await started.json()) as { jobId: string };
    for (let i = 0; i < 600; i++) {
      const job = (await (await s.app.request(`/api/index/${jobId}?collection=second`)).json()) as {
        state: string;
      };
      if (job.state === 'done') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const second = await s.runtime.collections.get('second');
    expect(await second!.collection.getPath(file)).toBeDefined();

    const res = await moveToTrash([file]);
    expect(res.status).toBe(409);
    const { error } = await errorOf(res);
    expect(error.code).toBe('path_in_other_collection');
    expect(error.message).toContain('"second"');
    expect(await stat(file)).toBeTruthy();
    expect(await s.runtime.collection.getPath(file)).toBeDefined();
    expect(await second!.collection.getPath(file)).toBeDefined();
  });

  it('documents both writes as needing the admin token', async () => {
    const doc = (await (await s.app.request('/api/openapi.json')).json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.paths['/api/trash']!.post!.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/api/trash/{id}/restore']!.post!.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/api/trash']!.get!.security).toBeUndefined();
  });

  it('answers a path outside the roots like a missing one', async () => {
    const outside = join(s.base, 'outside.jpg');
    await writeFile(outside, await scene(64, 64, 3));
    const res = await moveToTrash([outside]);
    expect(res.status).toBe(404);
    // The same answer as for a file that does not exist: nothing learnt about outside.
    const missing = await moveToTrash([join(s.base, 'missing.jpg')]);
    expect(missing.status).toBe(404);
    expect((await errorOf(res)).error.message.replace('outside', 'missing')).toBe(
      (await errorOf(missing)).error.message
    );
    expect(await stat(outside)).toBeTruthy();
    const empty = await moveToTrash([]);
    expect(empty.status).toBe(400);
  });
});
