import { realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupCliTempDirs, cliTempDir, startCli, type CliProcess } from '../helpers/cli';
import { scene } from '../helpers/images';
import { jsonRequest, writeScenes } from './helpers';

/**
 * Watched folders in a real `lookalike serve` process: a copied picture is indexed within
 * seconds, a deleted one goes, and after the process restarts the folder is still watched and
 * what changed while it was down is picked up.
 */
const started: CliProcess[] = [];

afterAll(async () => {
  for (const cli of started)
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cleanupCliTempDirs();
});

async function serve(images: string, dataDir: string) {
  const cli = await startCli(['serve', '--model', 'tiny', '--port', '0'], {
    env: { LOG_LEVEL: 'warn', LOOKALIKE_IMAGE_ROOTS: images },
    dataDir,
    timeoutMs: 120_000
  });
  started.push(cli);
  const [, base] = await cli.waitForStderr(/Lookalike on (http:\/\/[^\s]+)/);
  return { cli, base: base! };
}

async function pictures(base: string, folder: string): Promise<number> {
  const res = await fetch(`${base}/api/library/folders`);
  const { folders } = (await res.json()) as { folders: { path: string; pictures: number }[] };
  return folders.find((f) => f.path === folder)?.pictures ?? -1;
}

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - start;
}

describe('watched folders in lookalike serve', () => {
  it('indexes changes within seconds and keeps watching across a restart', async () => {
    const images = await realpath(await cliTempDir('lookalike-watch-images-'));
    const dataDir = await cliTempDir('lookalike-watch-data-');
    const folder = join(images, 'album');
    await writeScenes(folder, 2, { firstSeed: 1 });

    let { cli, base } = await serve(images, dataDir);
    const res = await fetch(`${base}/api/index`, jsonRequest({ path: folder }));
    expect(res.status).toBe(202);
    await until(async () => (await pictures(base, folder)) === 2);
    const watch = await fetch(
      `${base}/api/library/folders/watch`,
      jsonRequest({ path: folder, watched: true }, { method: 'PUT' })
    );
    expect(await watch.json()).toMatchObject({ watched: true, watch: { mode: 'events' } });

    const added = join(folder, 'added.jpg');
    await writeFile(added, await scene(96, 72, 50));
    const addedMs = await until(async () => (await pictures(base, folder)) === 3);
    await rm(join(folder, 'img-00.jpg'));
    const removedMs = await until(async () => (await pictures(base, folder)) === 2);
    console.log(`serve: added → indexed ${addedMs} ms, deleted → gone ${removedMs} ms`);

    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    // Changed while no server watched.
    await writeFile(join(folder, 'while-down.jpg'), await scene(96, 72, 51));
    ({ cli, base } = await serve(images, dataDir));
    const caughtUp = await until(async () => (await pictures(base, folder)) === 3);
    console.log(`serve restart: change made while down indexed ${caughtUp} ms after start`);
    const [listed] = (
      (await (await fetch(`${base}/api/library/folders`)).json()) as {
        folders: { watched: boolean; watch?: { mode: string } }[];
      }
    ).folders;
    expect(listed).toMatchObject({ watched: true, watch: { mode: 'events' } });
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
  }, 120_000);
});
