import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageRoots } from '../../server/services/image-roots';
import { Trash } from '../../server/services/trash';

/** The one containment check: which root holds a real path, innermost first when roots nest. */

let base: string;
let outer: string;
let inner: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'lookalike-root-of-'));
  outer = join(base, 'pics');
  inner = join(outer, 'phone');
  await mkdir(inner, { recursive: true });
  await mkdir(join(base, 'pics-other'));
});
afterAll(() => rm(base, { recursive: true, force: true }));

describe('ImageRoots.rootOf', () => {
  it('names the innermost root holding the path, and none for a sibling sharing a prefix', async () => {
    const roots = await ImageRoots.create([outer, inner]);
    expect(roots.rootOf(join(inner, 'a.jpg'))).toBe(inner);
    expect(roots.rootOf(inner)).toBe(inner);
    expect(roots.rootOf(join(outer, 'b.jpg'))).toBe(outer);
    expect(roots.rootOf(join(base, 'pics-other', 'c.jpg'))).toBeUndefined();
    expect(roots.rootOf(base)).toBeUndefined();
    // Listed the other way round, the answer is the same.
    expect((await ImageRoots.create([inner, outer])).rootOf(join(inner, 'a.jpg'))).toBe(inner);
  });

  it('gives the trash the same refusal text as every other read', async () => {
    const outside = join(base, 'pics-other', 'x.jpg');
    await writeFile(outside, 'x');
    const roots = await ImageRoots.create([outer]);
    const trash = new Trash({ roots: async () => roots, otherCollections: async () => [] });
    const scope = {
      name: 'default',
      collection: {
        getPath: async () => undefined,
        getPaths: async (paths: readonly string[]) =>
          new Map(paths.map((p) => [p, { imageId: 1, size: 1, mtimeMs: 0 }]))
      },
      ingest: { examine: async () => [], add: async () => [] }
    } as unknown as Parameters<Trash['trash']>[0];
    const readRefusal = await roots.resolve(outside).then(
      () => 'read',
      (e: Error) => e.message
    );
    const trashRefusal = await trash.trash(scope, [outside]).then(
      () => 'trashed',
      (e: Error) => e.message
    );
    expect(trashRefusal).toBe(readRefusal);
  });
});
