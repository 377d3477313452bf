import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  openSearchPage,
  PHONE_AND_DESKTOP,
  resultItems,
  startSearchFixture,
  type SearchFixture
} from '../helpers/browser';

/**
 * The page as a product: results first. After picking a picture the first result is on screen
 * without scrolling, on a phone and on a desktop (where the grid uses the width); the header
 * says the app's state in one status line, and "Offline" is said once.
 */

const PICTURES = 12;

/** Where the first result is, and the page's scroll state, when the results are in. */
async function firstResultBox(page: Page) {
  const box = await resultItems(page).first().boundingBox();
  const metrics = await page.evaluate(() => ({
    innerWidth: window.innerWidth,
    innerHeight: window.innerHeight,
    scrollY: window.scrollY,
    scrollWidth: document.documentElement.scrollWidth,
    gridWidth: document.querySelector('ol[aria-label^="Results"]')?.getBoundingClientRect().width
  }));
  return { box: box!, ...metrics };
}

describe.skipIf(!hasChromium)('layout: results first', () => {
  let fixture: SearchFixture;

  beforeAll(async () => {
    fixture = await startSearchFixture({
      pictures: PICTURES,
      context: { serviceWorkers: 'block' }
    });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  for (const size of PHONE_AND_DESKTOP) {
    it(`shows the first result without scrolling at ${size.viewport.width}×${size.viewport.height}`, async () => {
      const context = await fixture.browser.newContext({
        baseURL: fixture.server.url,
        viewport: size.viewport,
        isMobile: size.isMobile,
        hasTouch: size.hasTouch,
        serviceWorkers: 'block'
      });
      try {
        const page = await openSearchPage(context);
        // Before a picture: the page is the place to give one, a large target.
        // (On a touch screen it says "Choose a picture": nothing to drop there.)
        const zone = page.getByRole('button', {
          name: size.hasTouch ? /^Choose a picture from this device/ : /^Drop a picture here/
        });
        const zoneBox = (await zone.boundingBox())!;
        expect(zoneBox.height).toBeGreaterThanOrEqual(size.viewport.height * 0.25);

        await page.getByTestId('file-input').setInputFiles(fixture.paths[3]!);
        await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBe(10);
        const { box, innerWidth, innerHeight, scrollY, scrollWidth, gridWidth } =
          await firstResultBox(page);
        expect(scrollY).toBe(0);
        expect(box.y).toBeGreaterThanOrEqual(0);
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.y + box.height, 'first result bottom').toBeLessThanOrEqual(innerHeight);
        expect(box.x + box.width).toBeLessThanOrEqual(innerWidth);
        expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
        // The grid takes the page's width (less its margins), not a column beside a panel.
        expect(gridWidth!).toBeGreaterThanOrEqual(innerWidth * 0.9);
        // And the page scrolls normally to the rest of the results.
        const height = await page.evaluate(() => document.documentElement.scrollHeight);
        if (height > innerHeight) {
          await page.mouse.wheel(0, 400);
          await expect.poll(() => page.evaluate(() => window.scrollY)).toBeGreaterThan(0);
        }
      } finally {
        await context.close();
      }
    });
  }

  it('says the state in one status line; "Offline" once, in that line', async () => {
    const page = await openSearchPage(fixture.context);
    const header = page.getByRole('banner');
    const status = header.getByRole('status');
    expect(await status.count()).toBe(1);
    expect(await status.textContent()).toContain(`${PICTURES} pictures`);
    // No diagnostics in the header: the backend and its choice are on Check.
    expect(await header.getByRole('combobox').count()).toBe(0);
    expect(await page.getByText(/WebAssembly|WebGPU/).count()).toBe(0);
    await page.getByTestId('file-input').setInputFiles(fixture.paths[2]!);
    await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBe(10);

    // The Library's code is loaded while online (without a service worker here, nothing keeps
    // it for offline); the search stays as it was on the way back.
    await page.getByRole('link', { name: 'Library', exact: true }).click();
    await page.getByRole('heading', { name: 'Library' }).waitFor();
    await page.getByRole('link', { name: 'Search', exact: true }).click();
    await expect.poll(() => resultItems(page).count()).toBe(10);

    await fixture.server.stop();
    try {
      await page.evaluate(() => window.dispatchEvent(new Event('offline')));
      await expect.poll(() => status.textContent(), { timeout: 30_000 }).toMatch(/^\s*Offline · /);
      expect(await page.getByText(/offline/i).count()).toBe(1);
      // A new search says where its results came from, without saying "Offline" again.
      const topK = page.getByLabel('Results to show');
      await topK.fill('5');
      await topK.press('Enter');
      await page
        .getByTestId('search-summary')
        .or(page.getByTestId('search-error'))
        .first()
        .waitFor({ timeout: 30_000 });
      expect(await page.getByText(/offline/i).count()).toBe(1);
      // The Library says what is saved on this device, and not "Offline" a second time.
      await page.getByRole('link', { name: 'Library', exact: true }).click();
      await page.getByRole('heading', { name: 'Library' }).waitFor();
      expect(await page.getByText(/offline/i).count()).toBe(1);
    } finally {
      await fixture.server.start();
    }
    await page.close();
  });
});
