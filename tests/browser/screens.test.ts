import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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
 * Every main screen, on a phone and a desktop, light and dark: a screenshot each in
 * test-results/screenshots/<screen>-<size>-<scheme>.png to look at, and for each that it
 * rendered (its heading or landmark on screen) and that nothing is wider than the screen.
 */

const PICTURES = 12;
const SCHEMES = ['light', 'dark'] as const;

const DIR = resolve('test-results/screenshots');

async function shoot(page: Page, screen: string, size: string, scheme: string): Promise<void> {
  // Lazy thumbnails and fonts settle before the picture is taken.
  await page.evaluate(() =>
    Promise.all(
      [...document.images]
        .filter((img) => img.getBoundingClientRect().top < innerHeight)
        .map((img) => img.decode().catch(() => undefined))
    )
  );
  await page.screenshot({ path: join(DIR, `${screen}-${size}-${scheme}.png`) });
}

/** Nothing wider than the screen: the page itself never scrolls sideways. */
async function expectNoSidewaysScroll(page: Page, screen: string): Promise<void> {
  const { scrollWidth, width } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    width: window.innerWidth
  }));
  expect(scrollWidth, `${screen}: page width`).toBeLessThanOrEqual(width);
}

describe.skipIf(!hasChromium)('every screen, phone and desktop, light and dark', () => {
  let fixture: SearchFixture;

  beforeAll(async () => {
    await mkdir(DIR, { recursive: true });
    fixture = await startSearchFixture({
      pictures: PICTURES,
      context: { serviceWorkers: 'block' }
    });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  for (const size of PHONE_AND_DESKTOP) {
    for (const scheme of SCHEMES) {
      it(`${size.name} ${scheme}`, async () => {
        const context = await fixture.browser.newContext({
          baseURL: fixture.server.url,
          viewport: size.viewport,
          isMobile: size.isMobile,
          hasTouch: size.hasTouch,
          colorScheme: scheme,
          serviceWorkers: 'block'
        });
        const errors: string[] = [];
        try {
          const page = await openSearchPage(context, errors);
          const shot = async (screen: string) => {
            await expectNoSidewaysScroll(page, screen);
            await shoot(page, screen, size.name, scheme);
          };

          await page.getByRole('heading', { name: 'Search by picture' }).waitFor();
          await shot('search-empty');

          await page.getByTestId('file-input').setInputFiles(fixture.paths[4]!);
          await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBe(10);
          await page.getByRole('list', { name: /^Results/ }).waitFor();
          await shot('search-results');

          await resultItems(page).first().locator('button').click();
          const dialog = page.locator('dialog[open]');
          await dialog.waitFor();
          await dialog
            .locator('img')
            .first()
            .evaluate((img: HTMLImageElement) => img.decode());
          await shot('result-view');
          await page.keyboard.press('Escape');
          await expect.poll(() => dialog.count()).toBe(0);

          await page.getByRole('link', { name: 'Library', exact: true }).click();
          await page.getByRole('heading', { name: 'Library', level: 1 }).waitFor();
          await shot('library');

          await page.getByRole('link', { name: 'Duplicates', exact: true }).click();
          await page.getByRole('heading', { name: 'Duplicates' }).first().waitFor();
          await page.getByRole('main').waitFor();
          await shot('duplicates');

          await page.getByRole('link', { name: 'Check', exact: true }).click();
          await page.getByRole('heading', { name: 'Check this browser' }).waitFor();
          await page.getByTestId('encoder').waitFor({ timeout: 60_000 });
          await shot('check');

          await page.goto('/api/docs');
          await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 30_000 });
          await page
            .getByRole('heading', { name: /Lookalike/ })
            .first()
            .waitFor();
          await shot('api-docs');

          expect(errors).toEqual([]);
        } finally {
          await context.close();
        }
      }, 180_000);
    }
  }
});
