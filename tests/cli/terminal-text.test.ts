import { copyFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { human, terminalText } from '../../server/cli/terminal-text';
import type { JobRecord } from '../../server/stores/catalog';
import { cleanupCliTempDirs, cliTempDir, runCli } from '../helpers/cli';
import { scene } from '../helpers/images';

afterAll(cleanupCliTempDirs);

/** Any C0 control but the line feed, DEL, or any C1 control (U+009B is CSI on its own). */
const RAW_CONTROL = /(?!\n)\p{Cc}/u;

describe('terminalText', () => {
  it('shows C0, DEL and C1 controls escaped, and leaves other text alone', () => {
    expect(terminalText('a\x1b]0;pwned\x07b')).toBe('a\\x1b]0;pwned\\x07b');
    expect(terminalText('\x1b[2J\x00\t\r\n\x7f\u0085\u009b31m')).toBe(
      '\\x1b[2J\\x00\\x09\\x0d\\x0a\\x7f\\x85\\x9b31m'
    );
    expect(terminalText('line one\nline\x1b two', { keepLineFeeds: true })).toBe(
      'line one\nline\\x1b two'
    );
    const plain = 'ünïcødé 日本語 😀 é\u00a0x ~';
    expect(terminalText(plain)).toBe(plain);
  });

  it('escapes every value of a human template, never its literal parts', () => {
    expect(human`\n  ${'a\nb\x1b'}: ${42}\r\n`).toBe('\n  a\\x0ab\\x1b: 42\r\n');
  });
});

describe('human output of the CLI with hostile file names', () => {
  it('shows control characters escaped in index, search, duplicates and error lines; JSON stays exact', async () => {
    const folder = await realpath(await cliTempDir('lookalike-cli-escapes-'));
    const dataDir = await cliTempDir('lookalike-cli-data-');
    const titled = join(folder, 'retitle\x1b]0;pwned\x07.jpg');
    const cleared = join(folder, 'clear\x1b[2J copy.jpg');
    const csi = join(folder, 'csi\u009b31m.jpg');
    await writeFile(titled, await scene(96, 64, 7));
    await copyFile(titled, cleared); // same bytes: a duplicates group of two hostile names
    await writeFile(csi, 'not an image\n'); // listed among the skipped files
    const model = ['--model', 'tiny'];

    const indexed = await runCli(['index', folder, ...model], { dataDir });
    expect(indexed.code, indexed.stderr).toBe(0);
    expect(indexed.stderr).not.toMatch(RAW_CONTROL);
    expect(indexed.stderr).toContain('csi\\x9b31m.jpg: Not an image');

    const found = await runCli(['search', titled, ...model], { dataDir });
    expect(found.code, found.stderr).toBe(0);
    expect(found.stdout + found.stderr).not.toMatch(RAW_CONTROL);
    // One picture, two files: the hit shows the first path in byte order.
    expect(found.stdout).toContain('clear\\x1b[2J copy.jpg');

    const dupes = await runCli(['duplicates', ...model], { dataDir });
    expect(dupes.code, dupes.stderr).toBe(0);
    expect(dupes.stdout + dupes.stderr).not.toMatch(RAW_CONTROL);
    expect(dupes.stdout).toContain('retitle\\x1b]0;pwned\\x07.jpg');

    const missing = await runCli(['search', join(folder, 'gone\x1b[2J.jpg'), ...model], {
      dataDir
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`lookalike: No such file: ${join(folder, 'gone\\x1b[2J.jpg')}\n`);

    // Machine output keeps the names exact.
    const json = await runCli(['search', titled, '--json', ...model], { dataDir });
    const { results } = JSON.parse(json.stdout) as { results: { path: string }[] };
    expect(results.map((r) => r.path)).toEqual([cleared]);
    const again = await runCli(['index', folder, '--json', ...model], { dataDir });
    const job = JSON.parse(again.stdout) as JobRecord;
    expect(job.errors.map((e) => e.path)).toEqual([csi]);
  });
});
