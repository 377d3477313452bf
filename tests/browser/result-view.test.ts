import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  openSearchPage,
  resultItems,
  saveScreenshot,
  startSearchFixture,
  type AppServer,
  type SearchFixture
} from '../helpers/browser';

/** The larger view of a result: previous / next, open the original, download, copy the path. */

const PICTURES = 6;

describe.skipIf(!hasChromium)('the result view', () => {
  let fixture: SearchFixture;
  let server: AppServer;
  let context: BrowserContext;
  let paths: string[];

  beforeAll(async () => {
    fixture = await startSearchFixture({
      pictures: PICTURES,
      context: { serviceWorkers: 'block', acceptDownloads: true }
    });
    ({ server, context, paths } = fixture);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('steps through the results, downloads the original and copies its path', async () => {
    const errors: string[] = [];
    const page = await openSearchPage(context, errors);
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
