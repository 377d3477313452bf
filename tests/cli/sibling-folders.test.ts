import { mkdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { JobRecord } from '../../server/stores/catalog';
import { cleanupCliTempDirs, cliTempDir, runCli } from '../helpers/cli';
import { scene } from '../helpers/images';

afterAll(cleanupCliTempDirs);

/** `lookalike index <folder> --json` on the default stores (SQLite + usearch); the finished job. */
async function index(folder: string, dataDir: string): Promise<JobRecord> {
  const r = await runCli(['index', folder, '--json', '--model', 'tiny'], { dataDir });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as JobRecord;
}

it('re-indexing R/photos leaves the entries of its siblings R/Photos and R/photos2 alone', async () => {
  const root = await realpath(await cliTempDir('lookalike-cli-siblings-'));
  const dataDir = await cliTempDir('lookalike-cli-data-');
  const folders = ['photos', 'Photos', 'photos2'].map((name) => join(root, name));
  for (const [i, folder] of folders.entries()) {
    await mkdir(folder);
    await writeFile(join(folder, 'a.jpg'), await scene(96, 64, 10 + i));
    await writeFile(join(folder, 'b.jpg'), await scene(96, 64, 20 + i));
  }
  for (const folder of folders) expect((await index(folder, dataDir)).indexed).toBe(2);

  const again = await index(folders[0]!, dataDir);
  expect(again).toMatchObject({ state: 'done', seen: 2, unchanged: 2, removed: 0 });
  const count = await runCli(['count', '--model', 'tiny'], { dataDir });
  expect(count.code, count.stderr).toBe(0);
  expect(Number(count.stdout)).toBe(6);
  // And the siblings' entries are still theirs: re-indexing them finds nothing new or gone.
  for (const folder of folders.slice(1)) {
    expect(await index(folder, dataDir)).toMatchObject({ unchanged: 2, indexed: 0, removed: 0 });
  }
});
