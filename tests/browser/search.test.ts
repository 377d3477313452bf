import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  launchChromium,
  openSearchPage,
  resultItems,
  saveScreenshot,
  startAppServer,
  startSearchFixture,
  waitForModel,
  type AppServer,
  type SearchFixture
} from '../helpers/browser';

/**
 * The search side of the page in Chromium, on the production build and the real server with the
 * tiny generated model: pick / drop a picture, encode it in the browser, search, top-K, the
 * larger view with "More like this", crop, and the states people meet.
 */

const PICTURES = 12;

/** The header's status line while the server cannot be reached. */
const offlineStatus = (page: Page) =>
  page.locator('[data-testid="app-status"][data-online="false"]');

async function scores(page: Page): Promise<number[]> {
  const texts = await resultItems(page).locator('.score').allTextContents();
  return texts.map(Number);
}

describe.skipIf(!hasChromium)('searching from the page (tiny model)', () => {
  let fixture: SearchFixture;
  let server: AppServer;
  let browser: Browser;
  let context: BrowserContext;
  let paths: string[];

  beforeAll(async () => {
    fixture = await startSearchFixture({ pictures: PICTURES, context: { colorScheme: 'light' } });
    ({ server, browser, context, paths } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('finds a picked picture itself first, names the backend, and re-runs on a new top-K', async () => {
    const errors: string[] = [];
    const page = await openSearchPage(context, errors);
    await page.getByTestId('file-input').setInputFiles(paths[3]!);

    await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBe(10);
    const first = resultItems(page).first();
    expect(await first.locator('img').getAttribute('alt')).toBe('img-03.jpg');
    expect((await scores(page))[0]).toBeGreaterThanOrEqual(0.99);
    // Ten results, said plainly; how it ran (WebAssembly, timings) is a diagnostic for Check.
    const summary = page.getByTestId('search-summary');
    expect((await summary.textContent())?.trim()).toBe('10 results');
    expect(await summary.getAttribute('data-backend')).toMatch(/^wasm/);
    await page.getByRole('link', { name: 'Check', exact: true }).click();
    expect(await page.getByTestId('last-search').textContent()).toMatch(
      /10 results · encoded in [\d.]+ ms on WebAssembly/
    );
    await page.getByRole('link', { name: 'Search', exact: true }).click();
    await expect.poll(() => resultItems(page).count()).toBe(10);
    await saveScreenshot(page, 'search-results-light');

    const topK = page.getByLabel('Results to show');
    await topK.fill('4');
    await topK.press('Enter');
    await expect.poll(() => resultItems(page).count()).toBe(4);
    expect(await first.locator('img').getAttribute('alt')).toBe('img-03.jpg');

    // Out of range: a message, and the results stay as they were.
    await topK.fill('500');
    await topK.press('Enter');
    expect(await page.getByRole('alert').filter({ hasText: 'from 1 to 100' }).count()).toBe(1);
    expect(await resultItems(page).count()).toBe(4);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('opens a result in a dialog, closes it with Escape back onto the result, and searches "More like this"', async () => {
    const page = await openSearchPage(context);
    await page.getByTestId('file-input').setInputFiles(paths[5]!);
    await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBe(10);

    // Keyboard: focus the first result, move right, open with Enter.
    await resultItems(page).first().locator('button').focus();
    await page.keyboard.press('ArrowRight');
    const second = resultItems(page).nth(1).locator('button');
    expect(await second.evaluate((el) => el === document.activeElement)).toBe(true);
    const secondName = await second.locator('img').getAttribute('alt');
    await page.keyboard.press('Enter');

    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(join(server.imagesRoot, secondName!));
    expect(await dialog.textContent()).toContain('160 × 120 px');
    await dialog.locator('img').evaluate((img: HTMLImageElement) => img.decode());
    await saveScreenshot(page, 'search-result-dialog');

    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    expect(await second.evaluate((el) => el === document.activeElement)).toBe(true);

    // "More like this" searches with that result's picture: it comes back first.
    await second.click();
    await dialog.getByRole('button', { name: 'More like this' }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    await expect
      .poll(() => resultItems(page).first().locator('img').getAttribute('alt'), {
        timeout: 30_000
      })
      .toBe(secondName);
    expect((await scores(page))[0]).toBeGreaterThanOrEqual(0.99);
    expect(await page.getByAltText(`Query: ${secondName}`).count()).toBe(1);
    await page.close();
  });

  it('searches a dropped picture', async () => {
    const page = await openSearchPage(context);
    const bytes = (await readFile(paths[7]!)).toString('base64');
    const dataTransfer = await page.evaluateHandle((base64) => {
      const raw = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([raw], 'dropped.jpg', { type: 'image/jpeg' }));
      return transfer;
    }, bytes);
    const zone = page.getByRole('button', { name: /Drop a picture here/ });
    await zone.dispatchEvent('dragenter', { dataTransfer });
    await zone.dispatchEvent('drop', { dataTransfer });
    await expect
      .poll(() => resultItems(page).first().locator('img').getAttribute('alt'), {
        timeout: 30_000
      })
      .toBe('img-07.jpg');
    expect(await page.getByAltText('Query: dropped.jpg').count()).toBe(1);

    // A picture pasted anywhere on the page (a synthetic clipboard event) searches too.
    const pasted = (await readFile(paths[9]!)).toString('base64');
    await page.evaluate((base64) => {
      const raw = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const clipboardData = new DataTransfer();
      clipboardData.items.add(new File([raw], 'pasted.jpg', { type: 'image/jpeg' }));
      window.dispatchEvent(new ClipboardEvent('paste', { clipboardData }));
    }, pasted);
    await expect
      .poll(() => resultItems(page).first().locator('img').getAttribute('alt'), {
        timeout: 30_000
      })
      .toBe('img-09.jpg');
    await page.close();
  });

  it('crops by dragging on the preview and by the keyboard preset, then resets', async () => {
    const page = await openSearchPage(context);
    await page.getByTestId('file-input').setInputFiles(paths[2]!);
    await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBe(10);
    const caption = page.locator('.caption');
    expect(await caption.textContent()).toContain('160 × 120 px');

    await page.getByRole('button', { name: 'Crop', exact: true }).click();
    const box = (await page.getByTestId('crop-surface').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.25);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.6, { steps: 5 });
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.75, { steps: 5 });
    await page.mouse.up();
    // Half of each side of a 160×120 picture, give or take a pixel of rounding.
    await expect
      .poll(() => caption.textContent())
      .toMatch(/searching a (79|80|81) × (59|60|61) px region/);
    await expect
      .poll(() => page.getByTestId('search-summary').count(), { timeout: 30_000 })
      .toBe(1);

    await page.getByRole('button', { name: 'Reset crop' }).click();
    await expect.poll(() => caption.textContent()).toContain('160 × 120 px');
    await page.getByRole('button', { name: 'Centre 50%' }).click();
    await expect.poll(() => caption.textContent()).toContain('searching a 80 × 60 px region');
    await expect
      .poll(() => page.getByTestId('search-summary').count(), { timeout: 30_000 })
      .toBe(1);
    await page.close();
  });

  it('says clearly when a file is not a picture', async () => {
    const page = await openSearchPage(context);
    await page.getByTestId('file-input').setInputFiles({
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('these are not pixels')
    });
    const error = page.getByTestId('search-error');
    await error.waitFor({ timeout: 30_000 });
    expect(await error.textContent()).toContain('That file is not a picture Lookalike can read');
    expect(await error.getAttribute('role')).toBe('alert');
    await saveScreenshot(page, 'search-error-not-an-image');
    await page.close();
  });

  it('keeps the page when a file is dropped beside the drop zone', async () => {
    const page = await openSearchPage(context);
    const prevented = await page.evaluate(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['x'], 'stray.jpg', { type: 'image/jpeg' }));
      return ['dragover', 'drop'].map(
        (type) =>
          !document.body.dispatchEvent(
            new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true })
          )
      );
    });
    // A drop left to the browser would navigate to the file and lose the page.
    expect(prevented).toEqual([true, true]);
    await page.close();
  });

  it('takes a picture while the model downloads and searches it once the model is ready', async () => {
    const slow = await browser.newContext({ baseURL: server.url, serviceWorkers: 'block' });
    const page = await slow.newPage();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/api/model/file*', async (route) => {
      await gate;
      await route.continue();
    });
    await page.goto('/?backend=wasm');
    await page.getByTestId('file-input').setInputFiles(paths[6]!);
    const waiting = page.getByTestId('waiting-for-model');
    await waiting.waitFor({ timeout: 30_000 });
    expect(await waiting.textContent()).toContain('searched as soon as it is ready');
    release();
    await expect
      .poll(() => resultItems(page).first().locator('img').getAttribute('alt'), {
        timeout: 60_000
      })
      .toBe('img-06.jpg');
    await slow.close();
  });

  it('looks right in dark mode and on a 390 px phone', async () => {
    const dark = await browser.newContext({ baseURL: server.url, colorScheme: 'dark' });
    const page = await openSearchPage(dark);
    await page.getByTestId('file-input').setInputFiles(paths[1]!);
    await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBe(10);
    const background = await page.evaluate(
      () => getComputedStyle(document.documentElement).backgroundColor
    );
    expect(background).toBe('rgb(17, 19, 23)');
    await saveScreenshot(page, 'search-results-dark');
    await dark.close();

    const phone = await browser.newContext({
      baseURL: server.url,
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true
    });
    const small = await openSearchPage(phone);
    await small.getByTestId('file-input').setInputFiles(paths[1]!);
    await expect.poll(() => resultItems(small).count(), { timeout: 30_000 }).toBe(10);
    // Nothing wider than the screen: no sideways scrolling on a phone.
    expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390
    );
    await saveScreenshot(small, 'search-results-phone-390');
    await phone.close();
  });

  it('falls back to the copy saved on this device when the server stops answering', async () => {
    const page = await openSearchPage(context);
    // The page saves the collection for offline use by itself while online (the Library
    // shows the saved copy).
    await page.getByRole('link', { name: 'Library', exact: true }).click();
    await page
      .getByTestId('saved-copy')
      .filter({ hasText: `${PICTURES} pictures` })
      .waitFor({ timeout: 30_000 });
    await page.getByRole('link', { name: 'Search', exact: true }).click();
    await page.getByTestId('file-input').setInputFiles(paths[4]!);
    await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBe(10);

    await server.stop();
    try {
      // A new top-K re-searches with the same vector: now from the saved copy.
      const topK = page.getByLabel('Results to show');
      await topK.fill('5');
      await topK.press('Enter');
      const source = page.getByTestId('offline-source');
      await source.waitFor({ timeout: 30_000 });
      expect(await source.textContent()).toMatch(
        // Saved when the first test opened the page, a minute or so before on a slow machine.
        new RegExp(
          `Results from the copy on this device, saved (just now|\\d+ minutes? ago) \\(${PICTURES} pictures\\)`
        )
      );
      expect(await resultItems(page).count()).toBe(5);
      expect(await resultItems(page).first().locator('img').getAttribute('alt')).toBe('img-04.jpg');
      // The header's status says "Offline", once on the page.
      await offlineStatus(page).waitFor();
      expect(await page.getByText(/offline/i).count()).toBe(1);
      await saveScreenshot(page, 'search-offline-results');
    } finally {
      await server.start();
    }
    // Back online (the page checks every 10 s): the same query is searched on the server again.
    await offlineStatus(page).waitFor({ state: 'detached', timeout: 30_000 });
    await page.getByTestId('offline-source').waitFor({ state: 'detached', timeout: 30_000 });
    expect(await resultItems(page).count()).toBe(5);
    expect(await resultItems(page).first().locator('img').getAttribute('alt')).toBe('img-04.jpg');
    await page.close();
  });
});

describe.skipIf(!hasChromium)('states before any search', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('warns about a synthetic model and says how to fill an empty collection', async () => {
    const server = await startAppServer({ model: 'synthetic-resnet50' });
    try {
      const page = await browser.newPage({ baseURL: server.url });
      await page.goto('/?backend=wasm');
      const banner = page.getByTestId('synthetic-banner');
      await banner.waitFor({ timeout: 30_000 });
      expect(await banner.textContent()).toContain(
        'Synthetic model with random weights: results are not meaningful'
      );
      const empty = page.getByTestId('empty-collection');
      await empty.waitFor();
      expect(await empty.textContent()).toMatch(/collection is empty.*Add pictures/s);
      const library = empty.getByRole('link', { name: 'Add pictures in the Library' });
      expect(await library.getAttribute('href')).toBe('/library');
      await saveScreenshot(page, 'search-synthetic-empty');
    } finally {
      await server.close();
    }
  });

  it('says the server cannot be reached when it is down at start', async () => {
    const server = await startAppServer({ model: 'tiny' });
    const context = await browser.newContext({ baseURL: server.url, serviceWorkers: 'block' });
    try {
      // The page loads, but every API call fails as if the server had gone.
      const page = await context.newPage();
      await page.route('**/api/**', (route) => route.abort('connectionrefused'));
      await page.goto('/?backend=wasm');
      const offline = offlineStatus(page);
      await offline.waitFor({ timeout: 30_000 });
      expect(await offline.textContent()).toContain('Offline · no copy saved on this device');
      const status = page.getByTestId('model-status');
      await expect
        .poll(() => status.getAttribute('data-phase'), { timeout: 30_000 })
        .toBe('failed');
      expect(await status.textContent()).toContain('no copy of the model is saved on this device');
      expect(await status.getByRole('button', { name: 'Retry' }).count()).toBe(1);
      await saveScreenshot(page, 'search-server-unreachable');

      // The server comes back: the page notices and loads the model by itself, no reload.
      await page.unroute('**/api/**');
      await page.evaluate(() => window.dispatchEvent(new Event('online')));
      await expect.poll(() => status.getAttribute('data-phase'), { timeout: 60_000 }).toBe('ready');
      await waitForModel(page, { timeout: 30_000 });
      await offline.waitFor({ state: 'detached' });
    } finally {
      await context.close();
      await server.close();
    }
  });
});
