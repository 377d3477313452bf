import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  launchChromium,
  saveScreenshot,
  startAppServer,
  type AppServer
} from '../helpers/browser';
import { writeScenes } from '../http/helpers';

/** The larger view of a result: previous / next, open the original, download, copy the path. */

const PICTURES = 6;

async function indexAll(server: AppServer): Promise<void> {
  const started = await fetch(`${server.url}/api/index`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path: server.imagesRoot })
  });
  if (started.status !== 202) throw new Error(`index: ${started.status} ${await started.text()}`);
  const { jobId } = (await started.json()) as { jobId: string };
  for (let waited = 0; waited < 60_000; waited += 100) {
    const job = (await (await fetch(`${server.url}/api/index/${jobId}`)).json()) as {
      state: string;
    };
    if (job.state === 'done') return;
    if (['failed', 'cancelled', 'interrupted'].includes(job.state)) {
      throw new Error(`index job ended ${job.state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`index job ${jobId} did not finish`);
}

const resultItems = (page: Page) => page.locator('ol[aria-label^="Results"] > li');

describe.skipIf(!hasChromium)('the result view', () => {
  let server: AppServer;
  let browser: Browser;
  let context: BrowserContext;
  let paths: string[];

  beforeAll(async () => {
    server = await startAppServer({ model: 'tiny' });
    paths = await writeScenes(server.imagesRoot, PICTURES, { width: 160, height: 120 });
    await indexAll(server);
    browser = await launchChromium();
    context = await browser.newContext({
      baseURL: server.url,
      serviceWorkers: 'block',
      acceptDownloads: true
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('steps through the results, downloads the original and copies its path', async () => {
    const errors: string[] = [];
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto('/?backend=wasm');
    await page
      .getByTestId('backend-badge')
      .filter({ hasText: 'WebAssembly' })
      .waitFor({ timeout: 60_000 });
    await page.getByTestId('file-input').setInputFiles(paths[2]!);
    await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBe(PICTURES);
    const names = await resultItems(page)
      .locator('img')
      .evaluateAll((images) => images.map((image) => image.getAttribute('alt')));

    await resultItems(page).first().locator('button').click();
    const dialog = page.locator('dialog[open]');
    const heading = dialog.getByRole('heading');
    await dialog.waitFor();
    expect(await heading.textContent()).toBe(`#1 · ${names[0]}`);
    expect(await dialog.getByRole('button', { name: 'Previous result' }).isDisabled()).toBe(true);

    await dialog.getByRole('button', { name: 'Next result' }).click();
    expect(await heading.textContent()).toBe(`#2 · ${names[1]}`);
    await page.keyboard.press('ArrowRight');
    expect(await heading.textContent()).toBe(`#3 · ${names[2]}`);
    await page.keyboard.press('ArrowLeft');
    expect(await heading.textContent()).toBe(`#2 · ${names[1]}`);
    const path = join(server.imagesRoot, names[1]!);
    expect(await dialog.getByTestId('result-path').textContent()).toBe(path);

    // Open the original: the picture's own bytes, in a new tab.
    expect(
      await dialog.getByRole('link', { name: 'Open the original' }).getAttribute('target')
    ).toBe('_blank');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      dialog.getByRole('link', { name: 'Download' }).click()
    ]);
    expect(download.suggestedFilename()).toBe(names[1]);

    await dialog.getByRole('button', { name: 'Copy path' }).click();
    await expect.poll(() => dialog.getByTestId('copy-status').textContent()).toBe('Path copied.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(path);
    await saveScreenshot(page, 'search-result-view');

    // The last result has no next; closing goes back to the result last shown.
    for (let i = 2; i < PICTURES; i++) await page.keyboard.press('ArrowRight');
    expect(await heading.textContent()).toBe(`#${PICTURES} · ${names[PICTURES - 1]}`);
    expect(await dialog.getByRole('button', { name: 'Next result' }).isDisabled()).toBe(true);
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    const last = resultItems(page)
      .nth(PICTURES - 1)
      .locator('button');
    await expect.poll(() => last.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});
