import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DuplicateGroup } from '../../server/services/duplicates';
import type { SearchHit } from '../../server/services/collection';
import type { JobRecord } from '../../server/stores/catalog';
import { cleanupCliTempDirs, cliTempDir, runCli, type CliResult } from '../helpers/cli';
import { photoFolder, type PhotoFolder } from './fixtures';

/**
 * One collection through its life, with the real binary: index (with broken files), re-index,
 * search, duplicates, drop. The tests run in order and share the data directory.
 */

let photos: PhotoFolder;
let dataDir: string;
let outside: string;

const output = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
/** Runs a collection command with the tiny model on the shared data directory. */
const cli = (...args: string[]) => runCli([...args, '--model', 'tiny'], { dataDir });
const noStack = (r: CliResult) => expect(r.stderr, output(r)).not.toMatch(/^\s+at /m);

async function count(): Promise<number> {
  const r = await cli('count');
  expect(r.code, output(r)).toBe(0);
  expect(r.stdout).toMatch(/^\d+\n$/);
  return Number(r.stdout);
}

beforeAll(async () => {
  photos = await photoFolder();
  dataDir = await cliTempDir('lookalike-cli-data-');
  outside = await cliTempDir('lookalike-cli-query-');
});

afterAll(cleanupCliTempDirs);

describe('lookalike index / count / search / duplicates / drop', () => {
  it('indexes a folder, reports the broken files and exits 1', async () => {
    const r = await cli('index', photos.root);
    expect(r.code, output(r)).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/SYNTHETIC/);
    // The progress bar (printed as lines without a terminal) ends on the final counters.
    // The page's words for the same counters (JobProgress), in the bar and in the summary.
    expect(r.stderr).toMatch(/9\/9 files \| added 6 · unchanged 0 · not images 2 · failed 1/);
    expect(r.stderr).toContain(`Indexed ${photos.root}`);
    for (const [label, value] of [
      ['Looked at', 9],
      ['Added', 6], // 4 new pictures + the resized re-encode + the copy (linked)
      ['Unchanged', 0],
      ['Not images', 2], // text named .jpg, empty file
      ['Failed', 1], // truncated JPEG
      ['Removed', 0]
    ] as const) {
      expect(r.stderr).toMatch(new RegExp(`^  ${label} +${value} `, 'm'));
    }
    expect(r.stderr).toContain('3 files could not be indexed:\n');
    expect(r.stderr).toMatch(
      new RegExp(`^  ${escape(photos.truncated)}: Cannot decode image`, 'm')
    );
    expect(r.stderr).toMatch(new RegExp(`^  ${escape(photos.notes)}: Not an image`, 'm'));
    expect(r.stderr).toMatch(new RegExp(`^  ${escape(photos.empty)}: File is empty`, 'm'));
    expect(r.stderr).not.toContain(`${photos.a}:`);
    expect(r.stderr).toContain('The collection holds 5 picture(s).');
    noStack(r);
    // a, b, c, d and the resized b: the copy of a is the same picture.
    expect(await count()).toBe(5);
  });

  it('re-indexes with --json: everything unchanged, exact counters, still exit 1', async () => {
    const r = await cli('index', photos.root, '--json');
    expect(r.code, output(r)).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const job = JSON.parse(lines[0]!) as JobRecord;
    expect(job).toMatchObject({
      state: 'done',
      path: photos.root,
      recursive: true,
      seen: 9,
      indexed: 0,
      unchanged: 6,
      skipped: 2,
      failed: 1,
      removed: 0
    });
    expect(job.errors.map((e) => e.path).sort()).toEqual(
      [photos.empty, photos.notes, photos.truncated].sort()
    );
    expect(job.finishedAt).toBeGreaterThanOrEqual(job.createdAt);
    // --json replaces the summary.
    expect(r.stderr).not.toContain('could not be indexed');
    expect(await count()).toBe(5);
  });

  it('exits 0 once nothing fails, and forgets files that are gone', async () => {
    await Promise.all([photos.notes, photos.empty, photos.truncated, photos.d].map((p) => rm(p)));
    const r = await cli('index', photos.root, '--json');
    expect(r.code, output(r)).toBe(0);
    const job = JSON.parse(r.stdout) as JobRecord;
    expect(job).toMatchObject({
      state: 'done',
      seen: 5,
      indexed: 0,
      unchanged: 5,
      skipped: 0,
      failed: 0,
      removed: 1
    });
    expect(job.errors).toEqual([]);
    expect(await count()).toBe(4);
  });

  it('finds an indexed image first with score ≥ 0.9999, as a table and as JSON', async () => {
    // One at a time: processes sharing a data directory each save the index snapshot on exit.
    const table = await cli('search', photos.c);
    const json = await cli('search', photos.b, '-k', '3', '--json');
    expect(table.code, output(table)).toBe(0);
    const lines = table.stdout.trim().split('\n');
    // A picture's other files follow its row on "also" lines: here a's copy.
    const also = lines.filter((line) => /^\s+also /.test(line));
    expect(also.map((line) => line.trim())).toEqual([`also ${photos.copyOfA}`]);
    const rows = lines.filter((line) => !also.includes(line));
    expect(rows[0]).toMatch(/^\s*rank\s+score\s+path$/);
    expect(rows).toHaveLength(1 + 4); // header + every picture (k = 10 > 4)
    const [rank, score, path] = rows[1]!.trim().split(/\s+/);
    expect([rank, path]).toEqual(['1', photos.c]);
    expect(Number(score)).toBeGreaterThanOrEqual(0.9999);
    expect(table.stderr).toMatch(/SYNTHETIC/);

    expect(json.code, output(json)).toBe(0);
    const body = JSON.parse(json.stdout) as { results: SearchHit[]; tookMs: number };
    expect(body.results).toHaveLength(3);
    expect(body.results[0]!.path).toBe(photos.b);
    expect(body.results[0]!.score).toBeGreaterThanOrEqual(0.9999);
    // The resized re-encode is the next best match.
    expect(body.results[1]!.path).toBe(photos.smallB);
    const scores = body.results.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((x, y) => y - x));
    expect(body.results[2]!.score).toBeLessThan(0.99);
    expect(typeof body.tookMs).toBe('number');
    expect(body.tookMs).toBeGreaterThan(0);
  });

  it('explains bad searches and folders in one line and exits 1', async () => {
    const text = join(outside, 'query.jpg');
    await writeFile(text, 'not a picture');
    const missing = join(outside, 'missing.jpg');
    // Only the first opens the collection: the others fail before that.
    const [notImage, absent, badK, noFolder] = await Promise.all([
      cli('search', text),
      cli('search', missing),
      cli('search', photos.a, '-k', '101'),
      cli('index', join(outside, 'no-such-folder'))
    ]);
    expect(notImage.code, output(notImage)).toBe(1);
    expect(notImage.stderr).toContain(`lookalike: Cannot search with ${text}: Not an image`);
    expect(absent.code, output(absent)).toBe(1);
    expect(absent.stderr).toContain(`lookalike: No such file: ${missing}`);
    expect(badK.code, output(badK)).toBe(1);
    expect(badK.stderr).toMatch(/'-k, --top-k <n>' argument '101' is invalid.*1 to 100/);
    expect(noFolder.code, output(noFolder)).toBe(1);
    expect(noFolder.stderr).toContain('lookalike: No such folder or file:');
    for (const r of [notImage, absent, badK, noFolder]) {
      expect(r.stdout).toBe('');
      noStack(r);
    }
  });

  it('groups identical files and resized copies, and not distinct scenes at 0.9', async () => {
    const json = await cli('duplicates', '--json');
    const loose = await cli('duplicates', '--threshold', '0');
    expect(json.code, output(json)).toBe(0);
    const groups = JSON.parse(json.stdout) as DuplicateGroup[];
    const paths = (g: DuplicateGroup) => g.members.flatMap((m) => m.paths).sort();
    // The tiny model scores distinct scenes up to ~0.87 and the resized copy ~0.99999, so 0.9
    // separates them: exactly the two real duplicate groups.
    expect(groups.map((g) => [g.reason, paths(g)])).toEqual([
      ['same-bytes', [photos.a, photos.copyOfA].sort()],
      ['same-picture', [photos.b, photos.smallB].sort()]
    ]);
    const [bytes, picture] = groups;
    expect(bytes!.members).toHaveLength(1);
    expect(picture!.members).toHaveLength(2);
    for (const m of picture!.members) expect(m.score).toBeGreaterThanOrEqual(0.99);
    expect(picture!.explanation).toMatch(/re-encoded or resized/);

    // At threshold 0 every picture links to every other: one look-alike group of all four, and
    // the resized copy is still listed with its original as one picture.
    expect(loose.code, output(loose)).toBe(0);
    expect(loose.stdout).toMatch(/^same-bytes: /m);
    expect(loose.stdout).toMatch(/^similar-scene: 4 similar pictures/m);
    expect(loose.stdout.match(/^same-picture: 2 copies/gm)).toHaveLength(1);
    // The tiny model has no measured bands: the default threshold says it is a fallback.
    expect(json.stderr).toMatch(/no measured score bands: threshold 0\.9 is a fixed fallback/);
    for (const p of [photos.a, photos.b, photos.c, photos.smallB, photos.copyOfA])
      expect(loose.stdout).toContain(p);
  });

  it('refuses to drop without --yes when there is no terminal, then drops with --yes', async () => {
    const refused = await cli('drop');
    expect(refused.code, output(refused)).toBe(1);
    expect(refused.stderr).toMatch(/Refusing to drop.*--yes/);
    noStack(refused);
    expect(await count()).toBe(4);

    const dropped = await cli('drop', '--yes');
    expect(dropped.code, output(dropped)).toBe(0);
    expect(dropped.stderr).toContain('Removed 4 picture(s)');
    expect(await count()).toBe(0);
    const search = await cli('search', photos.a, '--json');
    expect(search.code, output(search)).toBe(0);
    expect(JSON.parse(search.stdout)).toMatchObject({ results: [] });
  });
});

describe('lookalike collection commands --help', () => {
  it('prints usage with each command’s own options', async () => {
    const expected: Record<string, string[]> = {
      index: ['<folders...>', '--no-recursive', '--json', '--model', '--data-dir'],
      search: ['<image>', '-k, --top-k', '--json', '--model', '--data-dir'],
      // The commands that compute no embedding do not list the model flags (help-options.test.ts).
      duplicates: ['--threshold', '--hamming-max', '--json', '--data-dir'],
      count: ['--data-dir'],
      drop: ['--yes', '--data-dir']
    };
    const names = Object.keys(expected);
    const results = await Promise.all(names.map((name) => runCli([name, '--help'])));
    results.forEach((r, i) => {
      const name = names[i]!;
      expect(r.code, `${name} --help\n${output(r)}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: lookalike ${name}( |$)`, 'm'));
      for (const text of expected[name]!) expect(r.stdout, name).toContain(text);
    });
    const top = await runCli(['--help']);
    for (const name of names) expect(top.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
