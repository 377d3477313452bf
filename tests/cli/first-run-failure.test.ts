import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cachedModelPath, getManifest } from '../../server/models/registry';
import { cleanupCliTempDirs, cliTempDir, startCli, type CliProcess } from '../helpers/cli';
import { closedPort } from '../helpers/model-host';
import { testModel } from '../helpers/models';

/**
 * A first `serve` whose model download fails starts on the synthetic model, and says why on
 * every surface: the terminal block, and the model's warning that /api/health (and so the page)
 * carries, so the random-weight model is never taken for a working one.
 */

const started: CliProcess[] = [];
afterAll(async () => {
  for (const cli of started) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
  await cleanupCliTempDirs();
});

describe('lookalike serve when the first download fails', () => {
  it("names the failed download in the synthetic model's warning", async () => {
    const cache = join(await cliTempDir('lookalike-first-run-failure-cache-'), 'models');
    await mkdir(cache);
    const fallback = getManifest('synthetic-resnet50');
    await symlink((await testModel('synthetic-resnet50')).path, cachedModelPath(cache, fallback));
    const cli = await startCli(['serve', '--port', '0'], {
      env: {
        LOG_LEVEL: 'warn',
        LOOKALIKE_MODEL_CACHE: cache,
        LOOKALIKE_MODEL_URL: `http://127.0.0.1:${await closedPort()}/model.onnx`
      }
    });
    started.push(cli);
    const [, base] = await cli.waitForStderr(/Lookalike on (http:\/\/\S+)/, 60_000);
    const health = (await (await fetch(`${base}/api/health`)).json()) as {
      model: { synthetic: boolean; warning?: string };
    };
    expect(health.model.synthetic).toBe(true);
    expect(health.model.warning).toMatch(
      /^The first-start download of ResNet-50 .* failed: .*127\.0\.0\.1.*\. SYNTHETIC MODEL ACTIVE/
    );
    // The terminal's loud line says the same.
    expect(cli.stderr()).toMatch(/The first-start download of ResNet-50 .* failed: /);
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
  });
});
