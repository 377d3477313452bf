import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { createRuntime } from '../../server/runtime';
import { cleanupCliTempDirs, cliTempDir, startCli, type CliProcess } from '../helpers/cli';
import { TEST_MODEL_CACHE } from '../helpers/models';
import { jsonRequest, readEvents, writeScenes, type JobBody } from './helpers';

afterAll(() => cleanupCliTempDirs());

const started: CliProcess[] = [];
afterAll(() => {
  for (const cli of started) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
});

async function serve(env: Record<string, string> = {}, dataDir?: string) {
  const cli = await startCli(['serve', '--model', 'tiny', '--port', '0', '--batch-size', '1'], {
    env: { LOG_LEVEL: 'warn', ...env },
    dataDir
  });
  started.push(cli);
  const [, base] = await cli.waitForStderr(/Lookalike on (http:\/\/[^\s]+)/);
  return { cli, base: base! };
}

describe('lookalike serve', () => {
  it('says how to allow image folders when none are configured', async () => {
    const { cli, base } = await serve();
    expect(cli.stderr()).toMatch(/No image folders are allowed yet.*LOOKALIKE_IMAGE_ROOTS/s);
    const res = await fetch(`${base}/api/index`, jsonRequest({ path: '/tmp' }));
    expect(res.status).toBe(403);
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
  });

  it('on SIGINT stops a running job (kept as cancelled) and exits 0', async () => {
    const images = await cliTempDir('lookalike-serve-images-');
    const dataDir = await cliTempDir('lookalike-serve-data-');
    await writeScenes(join(images, 'many'), 150, { width: 320, height: 240 });
    const { cli, base } = await serve({ LOOKALIKE_IMAGE_ROOTS: images }, dataDir);
    expect(cli.stderr()).not.toMatch(/No image folders are allowed/);

    const res = await fetch(`${base}/api/index`, jsonRequest({ path: join(images, 'many') }));
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    const events = await fetch(`${base}/api/index/${jobId}/events`);
    let signalled = false;
    const streamed = readEvents<JobBody>(events, (job) => {
      if (!signalled && job.state === 'running' && job.indexed > 0) {
        signalled = true;
        cli.child.kill('SIGINT');
      }
    }).catch(() => []); // the stream may be cut by the exit
    const sent = Date.now();
    const result = await cli.exited;
    await streamed;
    expect(signalled).toBe(true);
    expect(result.code, result.stderr).toBe(0);
    expect(Date.now() - sent).toBeLessThan(20_000);

    // The catalog says what happened: stopped part way, everything counted is stored.
    const runtime = await createRuntime(
      loadConfig(
        { model: 'tiny', dataDir },
        { LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE, LOOKALIKE_IMAGE_ROOTS: images }
      )
    );
    try {
      const job = await runtime.jobs.get(jobId);
      expect(job?.state).toBe('cancelled');
      expect(job!.indexed).toBeGreaterThan(0);
      expect(job!.indexed).toBeLessThan(150);
      expect(await runtime.collection.count()).toBe(job!.indexed);
    } finally {
      await runtime.close();
    }
  });
});
