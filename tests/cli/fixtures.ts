import { copyFile, mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { cliTempDir } from '../helpers/cli';
import { scene } from '../helpers/images';

/** A folder to index: good pictures, an identical copy, a resized re-encode, and broken files. */
export interface PhotoFolder {
  /** Real path (as index jobs report it). */
  root: string;
  a: string;
  b: string;
  c: string;
  d: string;
  /** Same bytes as `a`. */
  copyOfA: string;
  /** `b` resized to half and re-encoded as JPEG: a different file of the same picture. */
  smallB: string;
  /** Text in a file named .jpg: not an image (skipped). */
  notes: string;
  /** Zero bytes (skipped). */
  empty: string;
  /** The first half of a JPEG (failed). */
  truncated: string;
}

export async function photoFolder(): Promise<PhotoFolder> {
  const root = await realpath(await cliTempDir('lookalike-cli-photos-'));
  await mkdir(join(root, 'nested', 'deeper'), { recursive: true });
  const f: PhotoFolder = {
    root,
    a: join(root, 'a.jpg'),
    b: join(root, 'b.png'),
    c: join(root, 'nested', 'c.jpg'),
    d: join(root, 'nested', 'deeper', 'd.jpg'),
    copyOfA: join(root, 'nested', 'copy-of-a.jpg'),
    smallB: join(root, 'nested', 'b-small.jpg'),
    notes: join(root, 'notes.jpg'),
    empty: join(root, 'empty.jpg'),
    truncated: join(root, 'nested', 'truncated.jpg')
  };
  await writeFile(f.a, await scene(320, 240, 1));
  await writeFile(f.b, await scene(320, 240, 2, 'png'));
  await writeFile(f.c, await scene(240, 320, 3));
  await writeFile(f.d, await scene(300, 300, 4));
  await copyFile(f.a, f.copyOfA);
  await writeFile(
    f.smallB,
    await sharp(await readFile(f.b))
      .resize(160, 120)
      .jpeg({ quality: 75 })
      .toBuffer()
  );
  await writeFile(f.notes, 'this is not an image\n');
  await writeFile(f.empty, '');
  const whole = await scene(320, 240, 5);
  await writeFile(f.truncated, whole.subarray(0, Math.floor(whole.length / 2)));
  return f;
}

/** `count` distinct small pictures named p00.jpg, p01.jpg, … */
export async function manyPhotos(count: number): Promise<string> {
  const root = await realpath(await cliTempDir('lookalike-cli-many-'));
  await Promise.all(
    Array.from({ length: count }, async (_, i) =>
      writeFile(join(root, `p${String(i).padStart(2, '0')}.jpg`), await scene(96, 64, 100 + i))
    )
  );
  return root;
}
