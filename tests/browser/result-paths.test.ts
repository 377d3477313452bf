import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hammingDistance, SAME_PICTURE_HAMMING } from '#core/dhash';
import type { SearchResponse } from '../../src/lib/api/types';
import {
  hasChromium,
  indexImageRoot,
  launchChromium,
  saveScreenshot,
  startAppServer,
  type AppServer
} from '../helpers/browser';
import { writeScenes } from '../http/helpers';

/**
 * A picture stored as several identical files shows all its paths; the picture searched with and
 * re-encoded copies of it can be hidden, and the choice is kept on the device. Real server, real
 * Chromium, the tiny model (no score bands: copies are told by the difference hash alone).
 */

const resultButtons = (page: Page) => page.locator('ol[aria-label^="Results"] > li > button');
/** The results shown, as "rank. file name". */
const shownNames = (page: Page) =>
  resultButtons(page).evaluateAll((buttons) =>
    buttons.map((b) => b.getAttribute('aria-label')!.replace(/, score.*/, ''))
  );

describe.skipIf(!hasChromium)('all paths of a picture, and hiding the query and its copies', () => {
  let server: AppServer;
  let browser: Browser;
  let context: BrowserContext;
  let scenes: string[];
  let identical: string[];
  let resized: string;

  beforeAll(async () => {
    server = await startAppServer({ model: 'tiny' });
    scenes = await writeScenes(join(server.imagesRoot, 'scenes'), 4, { width: 160, height: 120 });
    // scene 0 three times over (one picture), and a smaller, re-encoded copy of scene 1.
    await mkdir(join(server.imagesRoot, 'copies'), { recursive: true });
    identical = [join(server.imagesRoot, 'copies', 'b.jpg'), join(server.imagesRoot, 'a.jpg')];
    for (const copy of identical) await copyFile(scenes[0]!, copy);
    resized = join(server.imagesRoot, 'copies', 'scene-1-small.jpg');
    await writeFile(
      resized,
      await sharp(scenes[1]!).resize(120, 90).jpeg({ quality: 70 }).toBuffer()
    );
    await indexImageRoot(server);
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: server.url, serviceWorkers: 'block' });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('the API lists every path, and the resized copy is within the copy limit', async () => {
    const vector = Array.from(await server.runtime.embedder.embedOne(scenes[1]!));
    const res = await fetch(`${server.url}/api/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vector, topK: 10 })
    });
    const { results } = (await res.json()) as SearchResponse;
    expect(results).toHaveLength(5);
    const group = results.find((r) => r.paths.length > 1)!;
    expect(group.paths).toEqual([identical[1], identical[0], scenes[0]].sort());
    const byPath = new Map(results.map((r) => [r.path, r]));
    const original = byPath.get(scenes[1]!)!;
    const copy = byPath.get(resized)!;
    // The premise of the page test below: the copy is "the same picture" by hash, no other is.
    expect(hammingDistance(original.dhash, copy.dhash)).toBeLessThanOrEqual(SAME_PICTURE_HAMMING);
    for (const other of results.filter((r) => r !== original && r !== copy)) {
      expect(hammingDistance(original.dhash, other.dhash)).toBeGreaterThan(SAME_PICTURE_HAMMING);
    }
  });

  it(
    'shows all paths of a picture in the result view, and hides what is asked',
    { timeout: 240_000 },
    async () => {
      const errors: string[] = [];
      const page = await context.newPage();
      page.on('pageerror', (error) => errors.push(error.message));
      // A picture chosen before the model is ready waits for it: no need to watch the header.
      await page.goto('/?backend=wasm');

      // Searching with one of the three identical files: its result lists all three.
      await page.getByTestId('file-input').setInputFiles(identical[0]!);
      await expect.poll(() => resultButtons(page).count(), { timeout: 90_000 }).toBe(5);
      const names = await shownNames(page);
      const first = names[0]!;
      await resultButtons(page).first().click();
      const dialog = page.locator('dialog[open]');
      await expect
        .poll(() => dialog.getByTestId('result-path').allTextContents())
        .toEqual([identical[1], identical[0], scenes[0]].sort());
      await expect.poll(() => dialog.getByText('Paths (3 identical files)').count()).toBe(1);
      expect(await dialog.getByRole('button', { name: /^Copy path \d of 3$/ }).count()).toBe(3);
      const download = dialog.getByRole('link', { name: 'Download' });
      expect(await download.getAttribute('href')).toMatch(/^\/api\/images\/\d+/);
      await saveScreenshot(page, 'result-paths-dialog');
      // Copying the third path, then moving to a result with one path: the arrows still work.
      const heading = dialog.getByRole('heading');
      await dialog.getByRole('button', { name: 'Copy path 3 of 3' }).click();
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => heading.textContent()).toBe(`#2 · ${names[1]!.replace(/^2\. /, '')}`);
      await page.keyboard.press('ArrowLeft');
      await expect.poll(() => heading.textContent()).toMatch(/^#1 · /);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' }).catch(() => dialog.waitFor({ state: 'hidden' }));

      // Hide the picture itself: the file searched with (same bytes), and nothing else.
      await page.getByRole('checkbox', { name: 'Hide the picture itself' }).check();
      await expect.poll(() => shownNames(page)).toEqual(names.slice(1));
      expect(names[0]).toBe(first);
      expect(await page.getByTestId('hidden-count').textContent()).toBe('1 hidden');
      await saveScreenshot(page, 'result-paths-hidden-query');

      // Kept on the device: after a reload, searching with scene 1 hides it at once; its resized
      // copy goes too once copies are hidden.
      await page.reload();
      await page.getByTestId('file-input').setInputFiles(scenes[1]!);
      await expect.poll(() => resultButtons(page).count(), { timeout: 90_000 }).toBe(4);
      expect(
        await page.getByRole('checkbox', { name: 'Hide the picture itself' }).isChecked()
      ).toBe(true);
      expect((await shownNames(page)).join()).toContain('scene-1-small.jpg');
      await page.getByRole('checkbox', { name: 'Hide re-saved copies' }).check();
      await expect.poll(() => resultButtons(page).count()).toBe(3);
      expect((await shownNames(page)).join()).not.toMatch(/img-01|scene-1-small/);
      expect(await page.getByTestId('hidden-count').textContent()).toBe('2 hidden');
      expect(await page.getByTestId('copies-rule').textContent()).toContain(
        'this model has no score bands'
      );

      // Showing everything again brings every result back.
      await page.getByRole('checkbox', { name: 'Hide the picture itself' }).uncheck();
      await page.getByRole('checkbox', { name: 'Hide re-saved copies' }).uncheck();
      await expect.poll(() => resultButtons(page).count()).toBe(5);
      expect(await page.getByTestId('hidden-count').count()).toBe(0);
      expect(errors).toEqual([]);
      await page.close();
    }
  );
});
