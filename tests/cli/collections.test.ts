import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchHit } from '../../server/services/collection';
import { cleanupCliTempDirs, cliTempDir, runCli, type CliResult } from '../helpers/cli';
import { writeScenes } from '../http/helpers';
import { dropDatabase, mysqlReachable, mysqlTestUrl } from '../helpers/mysql';

/**
 * Two collections with different models in one data directory, with the real binary: index,
 * list, search, count and drop each on its own.
 */

let dataDir: string;
let products: string[];
let wallpapers: string[];
let root: string;

const output = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const cli = (...args: string[]) => runCli(args, { dataDir, timeoutMs: 120_000 });

async function ok(...args: string[]): Promise<CliResult> {
  const r = await cli(...args);
  expect(r.code, output(r)).toBe(0);
  return r;
}

interface Listed {
  name: string;
  model: { id: string; dimension: number } | null;
  images: number;
  default: boolean;
}

beforeAll(async () => {
  dataDir = await cliTempDir('lookalike-cli-collections-');
  root = await cliTempDir('lookalike-cli-collections-images-');
  products = await writeScenes(join(root, 'products'), 4, { firstSeed: 20 });
  wallpapers = await writeScenes(join(root, 'wallpapers'), 3, { firstSeed: 60 });
});

afterAll(cleanupCliTempDirs);

const mysqlUp = await mysqlReachable();

describe('lookalike --collection', () => {
  it('documents --collection on the commands that use one, and the collections command', async () => {
    for (const command of ['index', 'search', 'count', 'duplicates', 'drop', 'migrate']) {
      const r = await ok(command, '--help');
      expect(r.stdout, command).toMatch(/--collection <name>/);
    }
    expect((await ok('--help')).stdout).toMatch(/^ {2}collections /m);
    expect((await ok('serve', '--help')).stdout).not.toMatch(/--collection/);
  });

  it('indexes two folders into two collections with different models', async () => {
    await ok('index', join(root, 'products'), '--model', 'tiny');
    const r = await ok(
      'index',
      join(root, 'wallpapers'),
      '--collection',
      'wall-papers',
      '--model',
      'synthetic-resnet50'
    );
    expect(r.stderr).toContain('Collection wall-papers holds 3 picture(s).');
    const listed = JSON.parse((await ok('collections', '--json')).stdout) as Listed[];
    expect(listed).toEqual([
      { name: 'default', model: { id: 'tiny', dimension: 128 }, images: 4, default: true },
      {
        name: 'wall-papers',
        model: { id: 'synthetic-resnet50', dimension: 2048 },
        images: 3,
        default: false
      }
    ]);
    const table = (await ok('collections')).stdout;
    // The page's word for them (the switcher's "3 pictures"); --json keeps the API's `images`.
    expect(table).toMatch(/^name +pictures +model$/m);
    expect(table).toMatch(/^wall-papers +3 +synthetic-resnet50 \(2048-d\)$/m);
  });

  it('searches and counts each collection on its own, with its own model', async () => {
    const search = async (file: string, ...extra: string[]) =>
      (
        JSON.parse((await ok('search', file, '--json', '-k', '3', ...extra)).stdout) as {
          results: SearchHit[];
        }
      ).results;
    const inDefault = await search(products[2]!);
    expect(inDefault[0]!.path).toBe(products[2]);
    expect(inDefault.every((h) => products.includes(h.path))).toBe(true);
    // No --model: the collection's own (synthetic-resnet50), whatever the default's is.
    const inOther = await search(wallpapers[1]!, '--collection', 'wall-papers');
    expect(inOther[0]!.path).toBe(wallpapers[1]);
    expect(inOther.every((h) => wallpapers.includes(h.path))).toBe(true);

    expect((await ok('count')).stdout).toBe('4\n');
    expect((await ok('count', '--collection', 'wall-papers')).stdout).toBe('3\n');
    const groups = JSON.parse(
      (await ok('duplicates', '--json', '--collection', 'wall-papers')).stdout
    );
    expect(Array.isArray(groups)).toBe(true);
  });

  it('explains an unknown collection, a bad name and a model mismatch in one line', async () => {
    const unknown = await cli('search', products[0]!, '--collection', 'nope');
    expect(unknown.code, output(unknown)).toBe(1);
    expect(unknown.stderr).toMatch(/^lookalike: There is no collection "nope"/m);
    const bad = await cli('count', '--collection', '-x');
    expect(bad.code).not.toBe(0);
    const invalid = await cli('count', '--collection', 'a b');
    expect(invalid.code).not.toBe(0);
    expect(invalid.stderr).toMatch(/collection name/);
    const mismatch = await cli('count', '--collection', 'wall-papers', '--model', 'tiny');
    expect(mismatch.code, output(mismatch)).toBe(1);
    expect(mismatch.stderr).toMatch(/built by model "synthetic-resnet50"/);
    expect(mismatch.stderr).not.toMatch(/^\s+at /m);
  });

  it('drops a named collection and leaves the default one', async () => {
    const r = await ok('drop', '--collection', 'wall-papers', '--yes');
    expect(r.stderr).toContain('Deleted collection wall-papers (3 picture(s)).');
    const listed = JSON.parse((await ok('collections', '--json')).stdout) as Listed[];
    expect(listed.map((c) => [c.name, c.images])).toEqual([['default', 4]]);
    expect((await ok('count')).stdout).toBe('4\n');
    expect((await cli('count', '--collection', 'wall-papers')).code).toBe(1);
  });

  it.skipIf(!mysqlUp)('migrates every collection to MySQL, each with its model', async () => {
    await ok(
      'index',
      join(root, 'wallpapers'),
      '--collection',
      'big',
      '--model',
      'synthetic-resnet50'
    );
    const url = mysqlTestUrl();
    try {
      const r = await runCli(['migrate', '--to', 'mysql'], {
        dataDir,
        env: { MYSQL_URL: url },
        timeoutMs: 120_000
      });
      expect(r.code, output(r)).toBe(0);
      expect(r.stderr).toMatch(/Migrated collection big: 3 pictures/);
      expect(r.stderr).toMatch(/Migrated collection default: 4 pictures/);
      const onMysql = (...args: string[]) =>
        runCli(args, { dataDir, env: { MYSQL_URL: url }, timeoutMs: 120_000 });
      const listed = await onMysql('collections', '--json');
      expect(listed.code, output(listed)).toBe(0);
      expect(
        (JSON.parse(listed.stdout) as Listed[]).map((c) => [c.name, c.images, c.model?.id])
      ).toEqual([
        ['big', 3, 'synthetic-resnet50'],
        ['default', 4, 'tiny']
      ]);
      const found = await onMysql('search', wallpapers[0]!, '--json', '--collection', 'big');
      expect(found.code, output(found)).toBe(0);
      expect((JSON.parse(found.stdout) as { results: SearchHit[] }).results[0]!.path).toBe(
        wallpapers[0]
      );
    } finally {
      await dropDatabase(url);
    }
  });
});
