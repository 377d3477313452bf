import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DuplicateGroup } from '../../server/services/duplicates';
import {
  cleanupCliTempDirs,
  cliTempDir,
  runCli,
  startCli,
  type CliProcess,
  type CliResult
} from '../helpers/cli';
import { photoFolder, type PhotoFolder } from './fixtures';

/**
 * `lookalike duplicates` next to a running `lookalike serve` (real binary on both sides) asks the
 * server's GET /api/duplicates, and prints exactly what it prints on its own once the server is
 * stopped.
 */

const output = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

let server: CliProcess | undefined;
let dataDir: string;
let photos: PhotoFolder;
const cli = (args: string[]) => runCli(args, { dataDir, timeoutMs: 120_000 });

afterAll(async () => {
  if (server && server.child.exitCode === null && server.child.signalCode === null)
    server.child.kill('SIGKILL');
  await cleanupCliTempDirs();
});

beforeAll(async () => {
  photos = await photoFolder();
  dataDir = await cliTempDir('lookalike-dup-beside-data-');
  server = await startCli(['serve', '--model', 'tiny', '--port', '0'], {
    env: { LOG_LEVEL: 'warn', LOOKALIKE_IMAGE_ROOTS: photos.root },
    dataDir,
    timeoutMs: 240_000
  });
  await server.waitForStderr(/Lookalike on (https?:\/\/[^\s]+)/, 60_000);
  // Through the server; the broken files of the folder make it exit 1.
  const indexed = await cli(['index', photos.root]);
  expect(indexed.stderr, output(indexed)).toMatch(/Indexed /);
}, 120_000);

const runs = [
  ['duplicates'],
  ['duplicates', '--json'],
  ['duplicates', '--threshold', '0', '--json']
];

describe('lookalike duplicates beside a running serve', () => {
  const beside: CliResult[] = [];

  it('goes through the server instead of refusing', async () => {
    for (const args of runs) {
      const r = await cli(args);
      expect(r.code, output(r)).toBe(0);
      beside.push(r);
    }
    const groups = JSON.parse(beside[1]!.stdout) as DuplicateGroup[];
    const paths = (g: DuplicateGroup) => g.members.flatMap((m) => m.paths).sort();
    expect(groups.map((g) => [g.reason, paths(g)])).toEqual([
      ['same-bytes', [photos.a, photos.copyOfA].sort()],
      ['same-picture', [photos.b, photos.smallB].sort()]
    ]);
    expect(beside[0]!.stdout).toContain(`same-bytes: 2 identical files`);
    // The tiny model's threshold is the fixed fallback, said as on its own.
    expect(beside[0]!.stderr).toMatch(/Model tiny has no measured score bands: threshold 0\.9/);
    expect(beside[0]!.stderr).toMatch(/^2 group\(s\) at threshold 0\.9\.$/m);
    // At threshold 0 every picture is linked: a look-alike group with scores.
    const loose = JSON.parse(beside[2]!.stdout) as DuplicateGroup[];
    expect(loose.some((g) => g.reason === 'similar-scene')).toBe(true);
  });

  it('prints the same bytes as the command on its own', async () => {
    server!.child.kill('SIGINT');
    expect((await server!.exited).code).toBe(0);
    for (const [i, args] of runs.entries()) {
      const alone = await cli(args);
      expect(alone.code, output(alone)).toBe(0);
      expect(alone.stdout, args.join(' ')).toBe(beside[i]!.stdout);
      // Standard error may carry the model's start-up notes on its own; the verdict is the same.
      const verdict = (r: CliResult) => r.stderr.split('\n').filter((l) => /threshold/.test(l));
      expect(verdict(alone), args.join(' ')).toEqual(verdict(beside[i]!));
    }
  });
});
