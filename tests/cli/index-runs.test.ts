import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../server/stores/catalog';
import { cleanupCliTempDirs, cliTempDir, runCli, startCli } from '../helpers/cli';
import { scene } from '../helpers/images';
import { manyPhotos } from './fixtures';

afterAll(cleanupCliTempDirs);

/** A row of the summary table. */
const row = (label: string, value: number) => new RegExp(`^ {2}${label} +${value} `, 'm');

describe('lookalike index', () => {
  it('does not fail for non-images, lists 20 problems, and stays in the folder with --no-recursive', async () => {
    const folder = await cliTempDir('lookalike-cli-notes-');
    const notes = Array.from({ length: 23 }, (_, i) => join(folder, `note-${i}.jpg`));
    await Promise.all(notes.map((p) => writeFile(p, `note ${p}\n`)));
    await mkdir(join(folder, 'sub'));
    await writeFile(join(folder, 'sub', 'photo.jpg'), await scene(64, 48, 9));

    const r = await runCli(['index', folder, '--no-recursive', '--model', 'tiny']);
    expect(r.code, r.stderr).toBe(0); // skipped files are not failures
    expect(r.stderr).toContain('(this folder only)');
    expect(r.stderr).toMatch(row('Looked at', 23)); // not the picture in sub/
    expect(r.stderr).toMatch(row('Not images', 23));
    expect(r.stderr).toMatch(row('Added', 0));
    expect(r.stderr).toMatch(row('Failed', 0));
    const listed = r.stderr
      .split('\n')
      .filter((l) => /^ {2}\S*note-\d+\.jpg: Not an image/.test(l));
    expect(listed).toHaveLength(20);
    expect(r.stderr).toContain('  …and 3 more\n');
    expect(r.stderr).toContain('The collection holds 0 picture(s).');
  });

  it('cancels the job cleanly on Ctrl-C (SIGINT) and exits 130', async () => {
    const photos = 40;
    const folder = await manyPhotos(photos);
    const dataDir = await cliTempDir('lookalike-cli-data-');
    // The synthetic ResNet-50 one image per call: tens of milliseconds per file, so the job is
    // still running when the signal arrives.
    const model = ['--model', 'synthetic-resnet50', '--batch-size', '1'];
    const cli = await startCli(['index', folder, '--json', ...model], { dataDir });
    try {
      await cli.waitForStderr(/^Indexing /m);
      cli.child.kill('SIGINT');
      const r = await cli.exited;
      expect(r.timedOut).toBe(false);
      expect(r.signal).toBeNull(); // it handled the signal and exited by itself
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toContain('cancelling after this batch');
      const job = JSON.parse(r.stdout) as JobRecord;
      expect(job.state).toBe('cancelled');
      expect(job.seen).toBeLessThan(photos);
      expect(job.indexed).toBe(job.seen);
      expect(job.failed).toBe(0);

      // Everything the job counted as indexed is durable.
      const count = await runCli(['count', ...model], { dataDir });
      expect(count.code, count.stderr).toBe(0);
      expect(Number(count.stdout)).toBe(job.indexed);
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    }
  });
});
