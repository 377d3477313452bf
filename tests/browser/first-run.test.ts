import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startServer, type StartedServer } from '../../server/cli/commands/serve';
import { loadConfig } from '../../server/config';
import { sha256File } from '../../server/models/download';
import { getManifest } from '../../server/models/registry';
import { hasChromium, launchChromium } from '../helpers/browser';
import { startModelHost, type ModelHost } from '../helpers/model-host';
import { testModel } from '../helpers/models';
import { BUILD_DIR } from '../helpers/web-build';

/**
 * The page during `serve`'s first start: the model's download with its progress in place of the
 * page, then the page itself once the server is ready, without a reload. The download target is
 * the resnet50 manifest pinned to the generated synthetic ResNet-50 (the real hash cannot be
 * matched by a test file), from a local host that stops half way until the page has been seen.
 */
describe.skipIf(!hasChromium)('the page during the first start', () => {
  let browser: Browser;
  let host: ModelHost | undefined;
  let started: StartedServer | undefined;
  let dataDir = '';

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    started?.server.close();
    await started?.runtime.close();
    await host?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
  });

  it('shows the download as it goes, then loads normally', async () => {
    const { path } = await testModel('synthetic-resnet50');
    const body = await readFile(path);
    const resnet50 = getManifest('resnet50');
    const manifest = {
      ...resnet50,
      file: { ...resnet50.file, sha256: await sha256File(path), bytes: body.length }
    };
    host = await startModelHost(body, { pauseAt: Math.floor(body.length * 0.45) });
    dataDir = await mkdtemp(join(tmpdir(), 'lookalike-first-run-page-'));
    await mkdir(join(dataDir, 'models'));
    const config = loadConfig(
      { dataDir, port: '0' },
      { LOOKALIKE_MODEL_CACHE: join(dataDir, 'models'), LOOKALIKE_MODEL_URL: host.url }
    );
    let terminal = '';
    const ready = startServer(config, pino({ level: 'silent' }), {
      staticDir: BUILD_DIR,
      defaultManifest: manifest,
      write: (text) => void (terminal += text)
    });
    await host.paused;
    const starting = /Lookalike is starting on (http:\/\/\S+):/;
    await vi.waitUntil(() => starting.test(terminal), { timeout: 10_000 });
    const url = starting.exec(terminal)![1]!;

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    const notice = page.getByTestId('server-starting');
    await expect
      .poll(() => notice.textContent(), { timeout: 15_000 })
      // Progress is reported at most every 100 ms, so the last figure before the pause may lag.
      .toMatch(/Downloading the model “ResNet-50[^”]*”:\s+[1-4]?\d % of 89\.6 MB/);
    expect(await page.getByRole('heading', { name: 'Search by picture' }).count()).toBe(0);

    host.release();
    started = await ready;
    // The page notices by itself (it polls health every second) and shows its content.
    await page.getByRole('heading', { name: 'Search by picture' }).waitFor({ timeout: 15_000 });
    expect(await notice.count()).toBe(0);
    expect(await page.getByTestId('synthetic-banner').count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
