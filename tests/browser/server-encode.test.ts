import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  launchChromium,
  saveScreenshot,
  startAppServer,
  type AppServer
} from '../helpers/browser';
import { writeScenes } from '../http/helpers';

/**
 * Pictures Chromium cannot decode (TIFF) or hold on a canvas (over 40 MP) are searched by the
 * server's own encoder (POST /api/search/image), with a note that the picture left the device;
 * without the server, a plain message and no fallback to the saved copy.
 */

const PICTURES = 8;

/** Indexes the server's image root through the HTTP API, as the page's users would. */
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

async function openReady(context: BrowserContext, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/?backend=wasm');
  await page
    .getByTestId('backend-badge')
    .filter({ hasText: 'WebAssembly' })
    .waitFor({ timeout: 60_000 });
  return page;
}

const resultItems = (page: Page) => page.locator('ol[aria-label^="Results"] > li');

describe.skipIf(!hasChromium)('searching with pictures the browser cannot decode', () => {
  let server: AppServer;
  let browser: Browser;
  let context: BrowserContext;
  let paths: string[];

  beforeAll(async () => {
    server = await startAppServer({ model: 'tiny' });
    paths = await writeScenes(server.imagesRoot, PICTURES, { width: 160, height: 120 });
    await indexAll(server);
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: server.url, serviceWorkers: 'block' });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('sends a TIFF of an indexed picture to the server and finds that picture first, with a note', async () => {
    const errors: string[] = [];
    const page = await openReady(context, errors);
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
    expect(await page.getByTestId('search-summary').textContent()).toMatch(
      new RegExp(`^${PICTURES} results\\s+· encoded and searched on the server in [\\d.]+ ms$`)
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
      .poll(() => page.getByTestId('search-backend').count(), { timeout: 30_000 })
      .toBe(1);
    expect(await note.count()).toBe(0);
    expect(uploads.at(-1)).toBe('/api/search');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('sends a 48-megapixel picture to the server, saying it is larger than a browser can decode', async () => {
    const errors: string[] = [];
    const page = await openReady(context, errors);
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
    const page = await openReady(context, []);
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
