import { readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  launchChromium,
  saveScreenshot,
  startAppServer,
  type AppServer
} from '../helpers/browser';
import { scene } from '../helpers/images';
import { writeScenes } from '../http/helpers';

/**
 * The Library screen against the real server and real files: the folders with their counts,
 * watching one, a picture copied into it found by search within seconds and gone once deleted,
 * removal with a confirmation; at phone width in the dark scheme too.
 */
describe.skipIf(!hasChromium)('Library screen in Chromium', () => {
  let server: AppServer;
  let browser: Browser;
  let album: string;

  const api = async <T>(path: string, init?: RequestInit) => {
    const response = await fetch(`${server.url}${path}`, init);
    expect(response.ok, `${path} answered ${response.status}`).toBe(true);
    return (await response.json()) as T;
  };

  /** The paths the server's search finds first for the picture in `file`. */
  const searchFor = async (bytes: Uint8Array) => {
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(bytes)]), 'query.jpg');
    form.append('topK', '1');
    const body = await api<{ results: { path: string }[] }>('/api/search/image', {
      method: 'POST',
      body: form
    });
    return body.results.map((r) => r.path);
  };

  const folderItem = (page: Page) =>
    page.locator(`[data-testid="library-folder"][data-path="${album}"]`);
  const shownFiles = async (page: Page) =>
    (await folderItem(page).getByTestId('folder-files').textContent())?.trim();

  beforeAll(async () => {
    server = await startAppServer();
    album = join(await realpath(server.imagesRoot), 'album');
    await writeScenes(album, 3, { firstSeed: 1 });
    const { jobId } = await api<{ jobId: string }>('/api/index', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: album })
    });
    for (;;) {
      const job = await api<{ state: string }>(`/api/index/${jobId}`);
      if (job.state === 'done') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // What `lookalike serve` does once it runs.
    await server.runtime.library.startWatching();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('lists the folder with its count; a picture copied into a watched folder is found', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/library`);
    await folderItem(page).waitFor();
    expect(await shownFiles(page)).toBe('3 files');
    expect(await folderItem(page).getByTestId('folder-last-run').textContent()).toMatch(
      /^Indexed just now \(3 added\)$/
    );

    await folderItem(page).getByRole('checkbox', { name: 'Watch for changes' }).check();
    await folderItem(page).getByText('Watching for changes').waitFor();

    const copied = join(album, 'copied in.jpg');
    const bytes = await scene(96, 72, 77);
    const started = Date.now();
    await writeFile(copied, bytes);
    await page.waitForFunction(
      (path) =>
        document
          .querySelector(
            `[data-testid="library-folder"][data-path="${path}"] [data-testid="folder-files"]`
          )
          ?.textContent?.trim() === '4 files',
      album,
      { timeout: 20_000 }
    );
    const shownAfter = Date.now() - started;
    // The collection's own count on the page follows what the watch added.
    await page.locator('[data-testid="image-count"][data-count="4"]').waitFor({ timeout: 10_000 });
    expect(await searchFor(bytes)).toEqual([copied]);
    console.log(`Library: copy → shown in the Library after ${shownAfter} ms`);
    await saveScreenshot(page, 'library-desktop');

    await rm(copied);
    await page.waitForFunction(
      (path) =>
        document
          .querySelector(
            `[data-testid="library-folder"][data-path="${path}"] [data-testid="folder-files"]`
          )
          ?.textContent?.trim() === '3 files',
      album,
      { timeout: 20_000 }
    );
    expect(await searchFor(bytes)).not.toContain(copied);
    await page.close();
  }, 90_000);

  it('reads well at phone width in the dark scheme', async () => {
    const page = await browser.newPage({
      viewport: { width: 390, height: 844 },
      colorScheme: 'dark'
    });
    await page.goto(`${server.url}/library`);
    await folderItem(page).waitFor();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth
    );
    expect(overflow).toBeLessThanOrEqual(0);
    const box = await folderItem(page).getByRole('button', { name: 'Re-index' }).boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    await saveScreenshot(page, 'library-phone-dark');
    // The removal's question fits the phone too, across the folder's whole row.
    await folderItem(page).getByRole('button', { name: 'Remove…' }).click();
    const question = folderItem(page).getByRole('alertdialog');
    const asked = await question.boundingBox();
    const row = await folderItem(page).boundingBox();
    expect(asked!.x + asked!.width).toBeLessThanOrEqual(390);
    expect(asked!.width).toBeGreaterThan(row!.width * 0.8);
    await saveScreenshot(page, 'library-phone-dark-remove');
    await question.getByRole('button', { name: 'Keep it' }).click();
    // "New collection…" open: its model list (long option labels) stays within the phone.
    await page.getByText('New collection…').click();
    const models = page.getByRole('combobox', { name: 'Model' });
    await models.waitFor();
    const wide = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      inner: window.innerWidth
    }));
    expect(wide.scroll).toBeLessThanOrEqual(wide.inner);
    const select = await models.boundingBox();
    expect(select!.x + select!.width).toBeLessThanOrEqual(390);
    await saveScreenshot(page, 'library-phone-dark-new-collection');
    await page.close();
  }, 60_000);

  it('removes a folder after a confirmation; the files stay on disk', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/library`);
    await folderItem(page).getByRole('button', { name: 'Remove…' }).click();
    await folderItem(page).getByRole('button', { name: 'Remove folder' }).click();
    await folderItem(page).waitFor({ state: 'detached' });
    expect((await api<{ count: number }>('/api/images/count')).count).toBe(0);
    expect((await readFile(join(album, 'img-00.jpg'))).length).toBeGreaterThan(0);
    await page.close();
  }, 60_000);
});
