import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, SERVER_FILE } from '../../server/data-dir-lock';
import { cachedModelPath, getManifest } from '../../server/models/registry';
import { cleanupCliTempDirs, cliTempDir, runCli, startCli, type CliProcess } from '../helpers/cli';
import { startModelHost } from '../helpers/model-host';
import { testModel } from '../helpers/models';

/**
 * While a first `serve` downloads its model it already owns the data directory: it holds the lock
 * and has recorded itself, so a CLI command started meanwhile never opens the stores beside it.
 */

const started: CliProcess[] = [];
afterAll(async () => {
  for (const cli of started) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
  await cleanupCliTempDirs();
});

describe('lookalike serve while it downloads its first model', () => {
  it('holds the data directory: other commands wait their turn with a clear line', async () => {
    const host = await startModelHost(Buffer.alloc(4 * 1024 * 1024, 7), {
      pauseAt: 2 * 1024 * 1024
    });
    try {
      const cache = join(await cliTempDir('lookalike-first-run-lock-cache-'), 'models');
      await mkdir(cache);
      const fallback = getManifest('synthetic-resnet50');
      await symlink((await testModel('synthetic-resnet50')).path, cachedModelPath(cache, fallback));
      const env = { LOG_LEVEL: 'warn', LOOKALIKE_MODEL_CACHE: cache };
      const serve = await startCli(['serve', '--port', '0'], {
        env: { ...env, LOOKALIKE_MODEL_URL: host.url },
        timeoutMs: 120_000
      });
      started.push(serve);
      const { dataDir } = serve;
      await serve.waitForStderr(/Lookalike is starting on (http:\/\/\S+):/, 60_000);
      await host.paused;
      // stderr is a pipe here, as under a service manager: progress comes as plain lines.
      await serve.waitForStderr(/^resnet50: 0% \(\d+\.\d of 4\.0 MiB\)$/m, 10_000);

      // The lock and the record are there before the model is.
      const lock = JSON.parse(await readFile(join(dataDir, LOCK_FILE), 'utf8')) as {
        pid: number;
      };
      expect(lock.pid).toBe(serve.child.pid);
      expect(existsSync(join(dataDir, SERVER_FILE))).toBe(true);

      // A command that needs the data directory to itself names the server instead of dropping.
      const drop = await runCli(['drop', '--yes'], { env, dataDir });
      expect(drop.code, drop.stderr).toBe(1);
      expect(drop.stderr).toMatch(
        /is in use by `lookalike serve` on http:\S+ \(pid \d+\): stop it/
      );
      // One that goes through the server says it is still getting its model ready.
      const count = await runCli(['count'], { env, dataDir });
      expect(count.code, count.stderr).toBe(1);
      expect(count.stderr).toMatch(
        /is still starting \(downloading the model, \d+%\): run this again once it prints "Lookalike on/
      );
      // Fetching the same model meanwhile would write into the same partial file: refused.
      const fetch = await runCli(['model', 'fetch', 'resnet50', '--url', host.url], {
        env,
        dataDir
      });
      expect(fetch.code, fetch.stderr).toBe(1);
      expect(fetch.stderr).toMatch(
        new RegExp(
          `^lookalike: Process ${serve.child.pid} is downloading \\S+resnet50\\.onnx already`,
          'm'
        )
      );
      // The server still holds its lock: no command took it over.
      expect(await readFile(join(dataDir, LOCK_FILE), 'utf8')).toContain(`${serve.child.pid}`);

      serve.child.kill('SIGINT');
      const result = await serve.exited;
      expect(result.code, result.stderr).toBe(0);
      // Stopped during the download: the lock and the record go with it.
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
      expect(existsSync(join(dataDir, SERVER_FILE))).toBe(false);
    } finally {
      await host.close();
    }
  });
});
