import { mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../server/errors';
import { collectionScope } from '../../server/http/collection-scope';
import { readableRoots } from '../../server/http/image-files';
import { walkFolder } from '../../server/services/folder-walker';
import { Ingest } from '../../server/services/ingest';
import {
  otherCollectionsOf,
  Trash,
  TRASH_FOLDER,
  type TrashScope
} from '../../server/services/trash';
import { scene } from '../helpers/images';
import { indexAndWait, startTestServer, type TestServer } from '../http/helpers';

/**
 * Move to trash and restore on real files, a real SQLite catalog and the tiny model: the file
 * moves inside its image root, its path leaves the collection and search, and comes back.
 */

let s: TestServer;
let trash: Trash;
let scope: TrashScope;
const f = {} as Record<'a' | 'aSmall' | 'b' | 'c' | 'nested' | 'outside', string>;

async function refusal(work: Promise<unknown>): Promise<UserError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e
  );
  expect(error, 'expected a refusal').toBeInstanceOf(UserError);
  return error as UserError;
}

/** Paths search finds for this picture (encoded on the server, as an upload would be). */
async function searchPaths(bytes: Uint8Array): Promise<string[]> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)]), 'query.jpg');
  form.append('topK', '20');
  const res = await s.app.request('/api/search/image', { method: 'POST', body: form });
  expect(res.status, await res.clone().text()).toBe(200);
  const body = (await res.json()) as { results: { path: string }[] };
  return body.results.map((r) => r.path);
}

beforeAll(async () => {
  s = await startTestServer();
  const root = s.imagesRoot;
  await mkdir(join(root, 'album', 'deep'), { recursive: true });
  Object.assign(f, {
    a: join(root, 'album', 'a.png'),
    aSmall: join(root, 'album', 'deep', 'a-small.jpg'),
    b: join(root, 'b.jpg'),
    c: join(root, 'c.jpg'),
    nested: join(root, 'album', 'deep', 'n.jpg'),
    outside: join(s.base, 'outside.jpg')
  });
  await writeFile(f.a, await scene(320, 240, 1, 'png'));
  await writeFile(
    f.aSmall,
    await sharp(await readFile(f.a))
      .resize(160, 120)
      .jpeg()
      .toBuffer()
  );
  await writeFile(f.b, await scene(200, 150, 2));
  await writeFile(f.c, await scene(200, 150, 3));
  await writeFile(f.nested, await scene(200, 150, 4));
  await writeFile(f.outside, await scene(200, 150, 5));
  expect((await indexAndWait(s.app, root)).state).toBe('done');

  const open = await collectionScope(s.runtime);
  trash = new Trash({
    roots: () => readableRoots(s.runtime),
    otherCollections: otherCollectionsOf(s.runtime.collections)
  });
  scope = {
    name: open.name,
    collection: open.collection,
    ingest: new Ingest({
      collection: open.collection,
      decoder: s.runtime.decoder,
      embedder: open.embedder
    })
  };
}, 60_000);
afterAll(() => s.close());

describe('Trash', () => {
  it('moves a file into the root’s trash, out of the collection, and restores it', async () => {
    const bytes = await readFile(f.aSmall);
    expect(await searchPaths(bytes)).toContain(f.aSmall);

    const [entry] = await trash.trash(scope, [f.aSmall]);
    const inTrash = join(s.imagesRoot, TRASH_FOLDER, 'files', 'album', 'deep', 'a-small.jpg');
    expect(entry).toMatchObject({
      collection: 'default',
      originalPath: f.aSmall,
      trashPath: inTrash,
      bytes: bytes.length
    });
    await expect(stat(f.aSmall)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(inTrash)).toEqual(bytes);
    expect(await s.runtime.collection.getPath(f.aSmall)).toBeUndefined();
    expect(await searchPaths(bytes)).not.toContain(f.aSmall);
    expect((await trash.list('default')).entries.map((e) => e.id)).toEqual([entry!.id]);
    // Another collection's list does not show it.
    expect((await trash.list('other')).entries).toEqual([]);

    const restored = await trash.restore(scope, entry!.id);
    expect(restored.path).toBe(f.aSmall);
    expect(await readFile(f.aSmall)).toEqual(bytes);
    await expect(stat(inTrash)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await s.runtime.collection.getPath(f.aSmall))?.imageId).toBe(restored.imageId);
    expect(await searchPaths(bytes)).toContain(f.aSmall);
    expect((await trash.list('default')).entries).toEqual([]);
  });

  it('keeps a picture that has another file, and names a second trashing apart', async () => {
    const copy = join(s.imagesRoot, 'album', 'b-copy.jpg');
    await writeFile(copy, await readFile(f.b));
    expect((await indexAndWait(s.app, s.imagesRoot)).state).toBe('done');
    const id = (await s.runtime.collection.getPath(f.b))!.imageId;
    expect((await s.runtime.collection.getImage(id))!.paths.sort()).toEqual([copy, f.b].sort());

    const [first] = await trash.trash(scope, [copy]);
    expect((await s.runtime.collection.getImage(id))!.paths).toEqual([f.b]);
    // The same name trashed again (a new file there meanwhile) does not overwrite the first.
    await writeFile(copy, await readFile(f.b));
    expect((await indexAndWait(s.app, s.imagesRoot)).state).toBe('done');
    const [second] = await trash.trash(scope, [copy]);
    expect(second!.trashPath).not.toBe(first!.trashPath);
    expect(await readFile(first!.trashPath)).toEqual(await readFile(second!.trashPath));

    // Restoring onto the place the other one left free works once; the second is a conflict.
    await trash.restore(scope, first!.id);
    const conflict = await refusal(trash.restore(scope, second!.id));
    expect(conflict.status).toBe(409);
    expect(conflict.message).toContain(copy);
    expect(await readFile(second!.trashPath)).toEqual(await readFile(f.b));
    expect((await trash.list('default')).entries.map((e) => e.id)).toEqual([second!.id]);
    await rm(copy);
    await trash.restore(scope, second!.id);
    expect((await s.runtime.collection.getPath(copy))?.imageId).toBe(id);
  });

  it('refuses paths outside the roots, unknown files and unknown entries, moving nothing', async () => {
    for (const path of [f.outside, join(s.imagesRoot, '..', 'outside.jpg')]) {
      expect((await refusal(trash.trash(scope, [path]))).status).toBe(404);
    }
    expect(await stat(f.outside)).toBeTruthy();
    const unknown = join(s.imagesRoot, 'never-indexed.jpg');
    await writeFile(unknown, await scene(64, 64, 9));
    expect((await refusal(trash.trash(scope, [unknown]))).status).toBe(404);
    expect(await stat(unknown)).toBeTruthy();
    // One bad path in a batch: none of the batch moves.
    expect((await refusal(trash.trash(scope, [f.c, f.outside]))).status).toBe(404);
    expect(await stat(f.c)).toBeTruthy();
    expect((await refusal(trash.restore(scope, 'no-such-entry'))).status).toBe(404);
  });

  it('restores into a folder removed meanwhile, but never through a link leading outside', async () => {
    const folder = join(s.imagesRoot, 'gone');
    const file = join(folder, 'g.jpg');
    await mkdir(folder);
    await writeFile(file, await scene(100, 80, 21));
    expect((await indexAndWait(s.app, s.imagesRoot)).state).toBe('done');
    const [entry] = await trash.trash(scope, [file]);
    await rm(folder, { recursive: true });
    // The folder is made again.
    await trash.restore(scope, entry!.id);
    expect(await stat(file)).toBeTruthy();

    // Now the folder is a link to one outside the roots: the file stays in the trash.
    const [again] = await trash.trash(scope, [file]);
    await rm(folder, { recursive: true });
    const outside = join(s.base, 'outside-folder');
    await mkdir(outside);
    await symlink(outside, folder);
    expect((await refusal(trash.restore(scope, again!.id))).status).toBe(404);
    await expect(stat(join(outside, 'g.jpg'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await stat(again!.trashPath)).toBeTruthy();
    await rm(folder);
    await trash.restore(scope, again!.id);
    expect((await stat(file)).isFile()).toBe(true);
  });

  it('refuses a file or folder swapped for a symlink to outside after indexing', async () => {
    const secret = await readFile(f.outside);
    // The indexed file is now a link to a file outside the roots.
    await rename(f.c, `${f.c}.moved`);
    await symlink(f.outside, f.c);
    expect((await refusal(trash.trash(scope, [f.c]))).status).toBe(404);
    expect(await readFile(f.outside)).toEqual(secret);
    expect((await stat(f.c)).isFile()).toBe(true); // the link is still in place

    // A folder on the way is now a link to a folder outside.
    const deep = join(s.imagesRoot, 'album', 'deep');
    const elsewhere = join(s.base, 'elsewhere');
    await rename(deep, elsewhere);
    await symlink(elsewhere, deep);
    expect((await refusal(trash.trash(scope, [f.nested]))).status).toBe(404);
    expect(await stat(join(elsewhere, 'n.jpg'))).toBeTruthy();
    await expect(
      stat(join(s.imagesRoot, TRASH_FOLDER, 'files', 'album', 'deep', 'n.jpg'))
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('a failure after the checks', () => {
  it('puts every moved file back when the collection cannot drop the paths', async () => {
    const d1 = join(s.imagesRoot, 'roll-1.jpg');
    const d2 = join(s.imagesRoot, 'album', 'roll-2.jpg');
    await writeFile(d1, await scene(90, 70, 31));
    await writeFile(d2, await scene(90, 70, 32));
    expect((await indexAndWait(s.app, s.imagesRoot)).state).toBe('done');
    const failing: TrashScope = {
      ...scope,
      collection: {
        getPath: (p) => scope.collection.getPath(p),
        getPaths: (p) => scope.collection.getPaths(p),
        // Fails for the batch that holds the second file (the first alone goes through).
        removePaths: (p) =>
          p.includes(d2)
            ? Promise.reject(new Error('catalog went away'))
            : scope.collection.removePaths(p)
      }
    };
    await expect(trash.trash(failing, [d1, d2])).rejects.toThrow('catalog went away');
    expect(await stat(d1)).toBeTruthy();
    expect(await stat(d2)).toBeTruthy();
    expect((await trash.list('default')).entries.map((e) => e.originalPath)).not.toContain(d1);
    expect((await trash.list('default')).entries.map((e) => e.originalPath)).not.toContain(d2);
    expect(await s.runtime.collection.getPath(d1)).toBeDefined();
  });

  it('puts the first file back when the second cannot be moved', async () => {
    const first = join(s.imagesRoot, 'first.jpg');
    const blocked = join(s.imagesRoot, 'blocked', 'x.jpg');
    await mkdir(join(s.imagesRoot, 'blocked'), { recursive: true });
    await writeFile(first, await scene(90, 70, 33));
    await writeFile(blocked, await scene(90, 70, 34));
    expect((await indexAndWait(s.app, s.imagesRoot)).state).toBe('done');
    // A file where the second one's trash folder would go: its move fails after the first's.
    const inTheWay = join(s.imagesRoot, TRASH_FOLDER, 'files', 'blocked');
    await mkdir(join(s.imagesRoot, TRASH_FOLDER, 'files'), { recursive: true });
    await writeFile(inTheWay, 'in the way');
    try {
      await expect(trash.trash(scope, [first, blocked])).rejects.toThrow();
      expect(await stat(first)).toBeTruthy();
      expect(await stat(blocked)).toBeTruthy();
      expect((await trash.list('default')).entries.map((e) => e.originalPath)).not.toContain(first);
      expect(await s.runtime.collection.getPath(first)).toBeDefined();
    } finally {
      await rm(inTheWay);
    }
  });

  it('leaves a trashed file that is no longer a picture in the trash (422)', async () => {
    const file = join(s.imagesRoot, 'spoilt.jpg');
    await writeFile(file, await scene(90, 70, 35));
    expect((await indexAndWait(s.app, s.imagesRoot)).state).toBe('done');
    const [entry] = await trash.trash(scope, [file]);
    await writeFile(entry!.trashPath, 'no longer a picture');
    const refused = await refusal(trash.restore(scope, entry!.id));
    expect(refused.status).toBe(422);
    expect(refused.code).toBe('not_a_picture');
    expect(await readFile(entry!.trashPath, 'utf8')).toBe('no longer a picture');
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await trash.list('default')).entries.map((e) => e.id)).toContain(entry!.id);
  });
});

describe('a damaged trash record', () => {
  it('is refused, never rewritten, and the files stay', async () => {
    const record = join(s.imagesRoot, TRASH_FOLDER, 'entries.json');
    const before = await readFile(record, 'utf8').catch(() => '[]');
    await writeFile(record, '{ not json');
    try {
      const listed = await trash.list('default');
      expect(listed.entries).toEqual([]);
      expect(listed.unreadable).toEqual([record]);
      const refused = await refusal(trash.trash(scope, [f.b]));
      expect(refused.status).toBe(503);
      expect(refused.code).toBe('trash_record_unreadable');
      expect(refused.message).toContain('entries.json');
      expect(await readFile(record, 'utf8')).toBe('{ not json');
      expect(await stat(f.b)).toBeTruthy();
    } finally {
      await writeFile(record, before);
    }
  });

  it('in another root blocks neither the list nor restores of this root', async () => {
    const otherRoot = join(s.base, 'other-root');
    const otherRecord = join(otherRoot, TRASH_FOLDER, 'entries.json');
    await mkdir(join(otherRoot, TRASH_FOLDER), { recursive: true });
    await writeFile(otherRecord, '{ not json');
    const twoRoots = new Trash({
      roots: async () => (await readableRoots(s.runtime)).with(otherRoot),
      otherCollections: otherCollectionsOf(s.runtime.collections)
    });
    const file = join(s.imagesRoot, 'healthy.jpg');
    await writeFile(file, await scene(90, 70, 41));
    expect((await indexAndWait(s.app, s.imagesRoot)).state).toBe('done');
    const [entry] = await twoRoots.trash(scope, [file]);
    const listed = await twoRoots.list('default');
    expect(listed.entries.map((e) => e.id)).toContain(entry!.id);
    expect(listed.unreadable).toEqual([otherRecord]);
    await twoRoots.restore(scope, entry!.id);
    expect(await stat(file)).toBeTruthy();
    // An entry found nowhere else may be in the unreadable record: 503, not 404.
    const unknown = await refusal(twoRoots.restore(scope, '0123456789abcdef'));
    expect(unknown.status).toBe(503);
    expect(unknown.code).toBe('trash_record_unreadable');
  });
});

describe('an edited trash record', () => {
  it('cannot make restore move a file that is not in the trash', async () => {
    const record = join(s.imagesRoot, TRASH_FOLDER, 'entries.json');
    const before = await readFile(record, 'utf8').catch(() => '[]');
    const bytes = await readFile(f.b);
    const forged = {
      id: 'abcdefabcdef0123',
      collection: 'default',
      originalPath: join(s.imagesRoot, 'album', 'taken-away.jpg'),
      trashPath: f.b,
      trashedAt: new Date().toISOString(),
      bytes: bytes.length,
      imageId: 1
    };
    for (const entry of [
      forged,
      { ...forged, trashPath: join(s.imagesRoot, TRASH_FOLDER, 'files', '..', '..', 'b.jpg') },
      {
        ...forged,
        trashPath: join(s.imagesRoot, TRASH_FOLDER, 'files', 'x.jpg'),
        originalPath: f.outside
      }
    ]) {
      await writeFile(record, JSON.stringify([...JSON.parse(before), entry]));
      try {
        const refused = await refusal(trash.restore(scope, forged.id));
        expect(refused.code).toBe('trash_record_unreadable');
        expect(await readFile(f.b)).toEqual(bytes);
        await expect(stat(forged.originalPath)).rejects.toMatchObject({ code: 'ENOENT' });
      } finally {
        await writeFile(record, before);
      }
    }
  });
});

describe('the folder walker', () => {
  it('skips the trash folder', async () => {
    const inTrash = join(s.imagesRoot, TRASH_FOLDER, 'files', 'kept.jpg');
    await mkdir(join(s.imagesRoot, TRASH_FOLDER, 'files'), { recursive: true });
    await writeFile(inTrash, await scene(64, 64, 11));
    const roots = await readableRoots(s.runtime);
    const seen: string[] = [];
    for await (const entry of walkFolder(s.imagesRoot, { recursive: true, roots }))
      seen.push(entry.path);
    expect(seen).toContain(f.b);
    expect(seen.filter((p) => p.includes(TRASH_FOLDER))).toEqual([]);
    // Nor is the trash indexed when asked for by name.
    const asked: string[] = [];
    for await (const entry of walkFolder(join(s.imagesRoot, TRASH_FOLDER), {
      recursive: true,
      roots
    }))
      asked.push(entry.kind);
    expect(asked).toEqual(['skipped']);
  });

  it('does not enter the trash through a symlink either', async () => {
    const inTrash = join(s.imagesRoot, TRASH_FOLDER, 'files', 'linked.jpg');
    await mkdir(join(s.imagesRoot, TRASH_FOLDER, 'files'), { recursive: true });
    await writeFile(inTrash, await scene(64, 64, 12));
    const pics = join(s.imagesRoot, 'pics');
    await mkdir(pics, { recursive: true });
    await symlink(join(s.imagesRoot, TRASH_FOLDER, 'files'), join(pics, 't'));
    await symlink(inTrash, join(pics, 'one.jpg'));
    try {
      const roots = await readableRoots(s.runtime);
      const files: string[] = [];
      for await (const entry of walkFolder(pics, { recursive: true, roots }))
        if (entry.kind === 'file') files.push(entry.path);
      expect(files).toEqual([]);
    } finally {
      await rm(pics, { recursive: true });
    }
  });
});
