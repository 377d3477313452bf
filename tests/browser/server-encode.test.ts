import { readFile } from 'node:fs/promises';
import type { BrowserContext } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  openSearchPage,
  resultItems,
  saveScreenshot,
  startSearchFixture,
  type SearchFixture
} from '../helpers/browser';

/**
 * Pictures Chromium cannot decode (TIFF) or hold on a canvas (over 40 MP) are searched by the
 * server's own encoder (POST /api/search/image), with a note that the picture left the device;
 * without the server, a plain message and no fallback to the saved copy.
 */

const PICTURES = 8;

describe.skipIf(!hasChromium)('searching with pictures the browser cannot decode', () => {
  let fixture: SearchFixture;
  let context: BrowserContext;
  let paths: string[];

  beforeAll(async () => {
    fixture = await startSearchFixture({
      pictures: PICTURES,
      context: { serviceWorkers: 'block' }
    });
    ({ context, paths } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('sends a TIFF of an indexed picture to the server and finds that picture first, with a note', async () => {
    const errors: string[] = [];
    const page = await openSearchPage(context, errors);
    const uploads: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') uploads.push(new URL(request.url()).pathname);
    });
    const tiff = await sharp(await readFile(paths[3]!))
      .tiff()
      .toBuffer();
    await page
      .getByTestId('file-input')
      .setInputFiles({ name: 'scan.tiff', mimeType: 'image/tiff', buffer: tiff });

    await expect
      .poll(() => resultItems(page).first().locator('img').getAttribute('alt'), {
        timeout: 30_000
      })
      .toBe('img-03.jpg');
    const score = Number(await resultItems(page).first().locator('.score').textContent());
    expect(score).toBeGreaterThanOrEqual(0.99);
    const note = page.getByTestId('server-encode-note');
    expect(await note.textContent()).toMatch(
      /Searched on the server: this browser cannot read TIFF files, so the picture was sent to the server/
    );
    const summary = page.getByTestId('search-summary');
    expect((await summary.textContent())?.trim()).toBe(`${PICTURES} results`);
    expect(await summary.getAttribute('data-source')).toBe('server-encoded');
    expect(await summary.getAttribute('title')).toMatch(
      /^encoded and searched on the server in [\d.]+ ms$/
    );
    expect(await page.getByTestId('crop-unavailable').textContent()).toContain(
      'Cropping is not available'
    );
    expect(await page.getByRole('button', { name: 'Crop', exact: true }).count()).toBe(0);
    expect(await page.locator('.broken').textContent()).toContain(
      'this browser cannot show this picture'
    );
    expect(uploads).toEqual(['/api/search/image']);
    await saveScreenshot(page, 'search-server-encoded-tiff');

    // A new top-K sends the picture again (there is no vector in the page).
    const topK = page.getByLabel('Results to show');
    await topK.fill('3');
    await topK.press('Enter');
    await expect.poll(() => resultItems(page).count(), { timeout: 30_000 }).toBe(3);
    expect(await resultItems(page).first().locator('img').getAttribute('alt')).toBe('img-03.jpg');
    expect(uploads).toEqual(['/api/search/image', '/api/search/image']);

    // The next ordinary picture is encoded in the browser again, without the note.
    await page.getByTestId('file-input').setInputFiles(paths[5]!);
    await expect
      .poll(() => page.getByTestId('search-summary').getAttribute('data-backend'), {
        timeout: 30_000
      })
      .toMatch(/^wasm/);
    expect(await note.count()).toBe(0);
    expect(uploads.at(-1)).toBe('/api/search');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('sends a 48-megapixel picture to the server, saying it is larger than a browser can decode', async () => {
    const errors: string[] = [];
    const page = await openSearchPage(context, errors);
    // An indexed scene enlarged to 8000×6000: over the page's 40 MP, under the server's 100 MP.
    const huge = await sharp(await readFile(paths[6]!))
      .resize(8000, 6000, { kernel: 'nearest' })
      .jpeg({ quality: 80 })
      .toBuffer();
    await page
      .getByTestId('file-input')
      .setInputFiles({ name: 'huge.jpg', mimeType: 'image/jpeg', buffer: huge });
    const note = page.getByTestId('server-encode-note');
    await note.waitFor({ timeout: 60_000 });
    expect(await note.textContent()).toContain(
      'the picture (8000×6000, 48 MP) is larger than a browser can decode'
    );
    expect(await resultItems(page).first().locator('img').getAttribute('alt')).toBe('img-06.jpg');
    expect(await page.getByTestId('search-error').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says plainly that the server is needed when it cannot be reached', async () => {
    const page = await openSearchPage(context, []);
    await page.route('**/api/search/image*', (route) => route.abort('connectionrefused'));
    const tiff = await sharp(await readFile(paths[1]!))
      .tiff()
      .toBuffer();
    await page
      .getByTestId('file-input')
      .setInputFiles({ name: 'scan.tiff', mimeType: 'image/tiff', buffer: tiff });
    const error = page.getByTestId('search-error');
    await error.waitFor({ timeout: 30_000 });
    expect(await error.textContent()).toMatch(
      /This picture can only be searched by the server \(this browser cannot read TIFF files\), and the server cannot be reached/
    );
    expect(await resultItems(page).count()).toBe(0);
    expect(await page.getByTestId('offline-source').count()).toBe(0);
    await page.close();
  });
});
