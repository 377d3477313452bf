import { copyFile, mkdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cleanupCliTempDirs, cliTempDir, runCli } from '../helpers/cli';
import { scene } from '../helpers/images';

afterAll(cleanupCliTempDirs);

it('search lists every file of a picture: identical files are one result with all their paths', async () => {
  const root = await realpath(await cliTempDir('lookalike-cli-paths-'));
  const dataDir = await cliTempDir('lookalike-cli-data-');
  await mkdir(join(root, 'copies'));
  await writeFile(join(root, 'a.jpg'), await scene(96, 64, 11));
  await writeFile(join(root, 'b.jpg'), await scene(96, 64, 12));
  await copyFile(join(root, 'a.jpg'), join(root, 'copies', 'a again.jpg'));
  const indexed = await runCli(['index', root, '--model', 'tiny'], { dataDir });
  expect(indexed.code, indexed.stderr).toBe(0);

  const table = await runCli(['search', join(root, 'a.jpg'), '--model', 'tiny'], { dataDir });
  expect(table.code, table.stderr).toBe(0);
  const lines = table.stdout.trimEnd().split('\n');
  // Header, the picture (first path on its row, the copy's path on the next), then b.jpg.
  expect(lines[1]).toMatch(/^\s+1\s+1\.0000\s+.*a\.jpg$/);
  expect(lines[2]).toBe(`${' '.repeat(15)}also ${join(root, 'copies', 'a again.jpg')}`);
  expect(lines[3]).toMatch(/^\s+2\s+.*b\.jpg$/);
  expect(lines).toHaveLength(4);

  const json = await runCli(['search', join(root, 'a.jpg'), '--model', 'tiny', '--json'], {
    dataDir
  });
  const { results } = JSON.parse(json.stdout) as { results: { paths: string[] }[] };
  expect(results[0]!.paths).toEqual([join(root, 'a.jpg'), join(root, 'copies', 'a again.jpg')]);
});
