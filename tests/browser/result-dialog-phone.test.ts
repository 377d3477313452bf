import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  indexImageRoot,
  openSearchPage,
  resultItems,
  saveScreenshot,
  startSearchFixture,
  type SearchFixture
} from '../helpers/browser';

/**
 * The larger view of a result on a phone: the "Paths (N identical files)" label goes above the
 * list, and each path uses the dialog's width rather than a few characters' column beside it.
 */
describe.skipIf(!hasChromium)('result view on a phone', () => {
  let fixture: SearchFixture;

  beforeAll(async () => {
    fixture = await startSearchFixture({ pictures: 4, context: { serviceWorkers: 'block' } });
    // A second, identical file in a deeper folder: the first picture has two long paths.
    const deeper = join(fixture.server.imagesRoot, 'holidays', 'summer-in-the-mountains');
    await mkdir(deeper, { recursive: true });
    await copyFile(fixture.paths[0]!, join(deeper, 'img-00-copy.jpg'));
    await indexImageRoot(fixture.server);
  }, 120_000);
  afterAll(async () => {
    await fixture?.close();
  });

  it('stacks the paths label above the paths, which take the full width', async () => {
    const context = await fixture.browser.newContext({
      baseURL: fixture.server.url,
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      colorScheme: 'dark',
      serviceWorkers: 'block'
    });
    try {
      const page = await openSearchPage(context);
      await page.getByTestId('file-input').setInputFiles(fixture.paths[0]!);
      await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBeGreaterThan(0);
      await resultItems(page).first().getByRole('button').click();
      const dialog = page.locator('dialog[open]');
      const label = dialog.getByText('Paths (2 identical files)');
      await label.waitFor();
      const labelBox = (await label.boundingBox())!;
      const dialogBox = (await dialog.boundingBox())!;
      const paths = dialog.getByTestId('result-path');
      expect(await paths.count()).toBe(2);
      for (const box of await Promise.all([0, 1].map((i) => paths.nth(i).boundingBox()))) {
        // Below the label, not beside it, and most of the dialog wide.
        expect(box!.y).toBeGreaterThanOrEqual(labelBox.y + labelBox.height - 1);
        expect(box!.width).toBeGreaterThan(dialogBox.width * 0.55);
      }
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(scroll).toBeLessThanOrEqual(390);
      await saveScreenshot(page, 'result-dialog-phone-dark');
    } finally {
      await context.close();
    }
  }, 120_000);
});
