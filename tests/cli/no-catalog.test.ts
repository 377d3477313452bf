import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupCliTempDirs, cliTempDir, runCli } from '../helpers/cli';
import { writeScenes } from '../http/helpers';

/**
 * A mistyped data directory for a command that only reads: one line saying there is no
 * collection there, a failing exit code, and nothing created (no folder, no catalog, no model).
 */
let parent: string;
let image: string;
beforeAll(async () => {
  parent = await cliTempDir('lookalike-no-catalog-');
  image = (await writeScenes(join(parent, 'query'), 1))[0]!;
});
afterAll(cleanupCliTempDirs);

describe('read commands on a data directory without a catalog', () => {
  const commands = () => [
    ['count'],
    ['collections'],
    ['duplicates'],
    ['doctor'],
    ['search', image]
  ];

  it('say there is no collection there and create nothing (LOOKALIKE_DATA_DIR)', async () => {
    for (const args of commands()) {
      const dataDir = join(parent, `typo-${args[0]}`);
      const r = await runCli(args, { dataDir });
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^lookalike: There is no collection in \\S*typo-${args[0]} .*--data-dir`)
      );
      await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
    }
  });

  it('say so for --data-dir too, in an existing but empty folder, leaving it empty', async () => {
    const empty = await cliTempDir('lookalike-empty-data-');
    const r = await runCli(['count', '--data-dir', empty]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/There is no collection in/);
    expect(await readdir(empty)).toEqual([]);
  });
});
