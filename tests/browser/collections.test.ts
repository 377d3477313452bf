import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  launchChromium,
  saveScreenshot,
  startAppServer,
  waitForModel,
  type AppServer
} from '../helpers/browser';
import { testModel } from '../helpers/models';
import { writeScenes } from '../http/helpers';

/**
 * Named collections in the page, on the real server and the production build: two collections
 * built with different models (the tiny 128-d model for the default, the 2048-d synthetic
 * ResNet-50 for "resnet") from different folders. The page switches between them, loads each
 * one's model in the browser, finds only that collection's pictures, and keeps the choice in the
 * address and across reloads; a collection made and deleted from the page comes and goes.
 */

const PICTURES = 6;
const FINISHED = ['done', 'failed', 'cancelled', 'interrupted'];

describe.skipIf(!hasChromium)('named collections in the page', () => {
  let server: AppServer;
  let browser: Browser;
  let context: BrowserContext;
  let defaultPaths: string[];
  let resnetPaths: string[];

  async function api<T>(path: string, init?: RequestInit): Promise<T> {
    const response = await fetch(`${server.url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...init?.headers }
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  /** Indexes `path` into `collection` over HTTP, as a user of the API would. */
  async function indexInto(collection: string, path: string): Promise<void> {
    const query = collection === 'default' ? '' : `?collection=${collection}`;
    const { jobId } = await api<{ jobId: string }>(`/api/index${query}`, {
      method: 'POST',
      body: JSON.stringify({ path })
    });
    for (let waited = 0; waited < 120_000; waited += 100) {
      const job = await api<{ state: string }>(`/api/index/${jobId}${query}`);
      if (job.state === 'done') return;
      if (FINISHED.includes(job.state)) throw new Error(`index job ended ${job.state}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`index job ${jobId} did not finish`);
  }

  const resultItems = (page: Page) => page.locator('ol[aria-label^="Results"] > li');
  const resultNames = (page: Page) =>
    resultItems(page)
      .locator('img')
      .evaluateAll((images) => images.map((img) => img.getAttribute('alt') ?? ''));
  const resultThumbs = (page: Page) =>
    resultItems(page)
      .locator('img')
      .evaluateAll((images) => images.map((img) => img.getAttribute('src') ?? ''));
  const switcher = (page: Page) => page.getByTestId('collection-switcher');

  /** Waits until the encoder runs the model named `name` (the header's status names it). */
  async function modelReady(page: Page, name: string): Promise<void> {
    await waitForModel(page, { model: name });
  }

  /** Searches with a picture file; resolves with the result names once they are in. */
  async function searchWith(page: Page, file: string, expectFirst: string): Promise<string[]> {
    await page.getByTestId('file-input').setInputFiles(file);
    await expect
      .poll(() => resultNames(page).then((names) => names[0]), { timeout: 120_000 })
      .toBe(expectFirst);
    return resultNames(page);
  }

  beforeAll(async () => {
    // The second model is generated into the shared test cache once (kept between runs).
    await testModel('synthetic-resnet50');
    server = await startAppServer({ model: 'tiny' });
    defaultPaths = await writeScenes(join(server.imagesRoot, 'everyday'), PICTURES, {
      prefix: 'day',
      width: 160,
      height: 120
    });
    resnetPaths = await writeScenes(join(server.imagesRoot, 'resnet'), PICTURES, {
      prefix: 'res',
      firstSeed: 100,
      width: 160,
      height: 120
    });
    await indexInto('default', join(server.imagesRoot, 'everyday'));
    await api('/api/collections', {
      method: 'POST',
      body: JSON.stringify({ name: 'resnet', model: 'synthetic-resnet50' })
    });
    await indexInto('resnet', join(server.imagesRoot, 'resnet'));
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: server.url, colorScheme: 'light' });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it("switches collections, loading each one's model and finding only its pictures", async () => {
    const { collections } = await api<{
      collections: { name: string; model: { id: string } | null; images: number }[];
    }>('/api/collections');
    expect(collections.map((c) => [c.name, c.model?.id, c.images])).toEqual([
      ['default', 'tiny', PICTURES],
      ['resnet', 'synthetic-resnet50', PICTURES]
    ]);

    const errors: string[] = [];
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    const modelRequests: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === '/api/model') modelRequests.push(url.search);
    });
    await page.goto('/?backend=wasm');
    await modelReady(page, 'Tiny');
    expect(await switcher(page).inputValue()).toBe('default');
    expect(await switcher(page).locator('option').allTextContents()).toEqual([
      `default — tiny · ${PICTURES} pictures`,
      `resnet — synthetic-resnet50 · ${PICTURES} pictures`
    ]);

    // In the default collection, a picture of the other one finds only the default's pictures.
    await page.getByTestId('file-input').setInputFiles(resnetPaths[2]!);
    await expect.poll(() => resultItems(page).count(), { timeout: 60_000 }).toBe(PICTURES);
    expect((await resultNames(page)).every((name) => name.startsWith('day-'))).toBe(true);

    // Switch: the address names it, its model (another dimension) loads, the same picture is
    // encoded again with it and searched there: itself first, nothing of the default's.
    await switcher(page).selectOption('resnet');
    await expect.poll(() => new URL(page.url()).searchParams.get('collection')).toBe('resnet');
    await modelReady(page, 'ResNet-50');
    await expect
      .poll(() => resultNames(page).then((names) => names[0]), { timeout: 120_000 })
      .toBe('res-02.jpg');
    const names = await resultNames(page);
    expect(names).toHaveLength(PICTURES);
    expect(names.every((name) => name.startsWith('res-'))).toBe(true);
    expect((await resultThumbs(page)).every((src) => src.includes('collection=resnet'))).toBe(true);
    expect(modelRequests).toContain('?collection=resnet');
    await saveScreenshot(page, 'collections-switched');

    // "More like this" fetches the result's picture from its collection.
    await resultItems(page).nth(1).locator('button').click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    const second = names[1]!;
    expect(await dialog.textContent()).toContain(join(server.imagesRoot, 'resnet', second));
    await dialog.getByRole('button', { name: 'More like this' }).click();
    await expect.poll(() => resultNames(page).then((n) => n[0]), { timeout: 120_000 }).toBe(second);

    // A reload keeps the choice (the address), and so does the next visit without it (storage).
    await page.reload();
    await modelReady(page, 'ResNet-50');
    expect(await switcher(page).inputValue()).toBe('resnet');
    const again = await searchWith(page, resnetPaths[4]!, 'res-04.jpg');
    expect(again.every((name) => name.startsWith('res-'))).toBe(true);

    const next = await context.newPage();
    await next.goto('/?backend=wasm');
    await modelReady(next, 'ResNet-50');
    expect(await switcher(next).inputValue()).toBe('resnet');
    expect(new URL(next.url()).searchParams.get('collection')).toBe('resnet');
    await next.close();

    // Back to the default: its model again, its pictures only.
    await switcher(page).selectOption('default');
    await expect.poll(() => new URL(page.url()).searchParams.has('collection')).toBe(false);
    await modelReady(page, 'Tiny');
    const back = await searchWith(page, defaultPaths[1]!, 'day-01.jpg');
    expect(back.every((name) => name.startsWith('day-'))).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('makes a collection from the page, indexes into it, and deletes it', async () => {
    const page = await context.newPage();
    await page.goto('/library?backend=wasm');
    await modelReady(page, 'Tiny');

    await page.getByText('New collection…').click();
    await page.getByLabel('Name', { exact: true }).fill('scratch');
    await page.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => switcher(page).inputValue(), { timeout: 30_000 }).toBe('scratch');
    expect(new URL(page.url()).searchParams.get('collection')).toBe('scratch');
    await page.getByRole('link', { name: 'Search', exact: true }).click();
    await page.getByTestId('empty-collection').waitFor();
    await page.getByRole('link', { name: 'Library', exact: true }).click();

    // Indexing from the panel goes into it, not into the default.
    await page.getByLabel('Folder on the server').fill(join(server.imagesRoot, 'resnet'));
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('[data-testid="image-count"][data-count="6"]').waitFor({ timeout: 60_000 });
    const listed = await api<{ collections: { name: string; images: number }[] }>(
      '/api/collections'
    );
    expect(listed.collections.map((c) => [c.name, c.images])).toEqual([
      ['default', PICTURES],
      ['resnet', PICTURES],
      ['scratch', PICTURES]
    ]);
    await page.getByRole('link', { name: 'Search', exact: true }).click();
    const found = await searchWith(page, resnetPaths[0]!, 'res-00.jpg');
    expect(found).toHaveLength(PICTURES);
    await page.getByRole('link', { name: 'Library', exact: true }).click();

    await page.getByRole('button', { name: 'Delete collection…' }).click();
    await page.getByRole('button', { name: 'Delete “scratch”' }).click();
    await expect.poll(() => switcher(page).inputValue(), { timeout: 30_000 }).toBe('default');
    expect(new URL(page.url()).searchParams.has('collection')).toBe(false);
    const after = await api<{ collections: { name: string }[] }>('/api/collections');
    expect(after.collections.map((c) => c.name)).toEqual(['default', 'resnet']);
    // Its saved copy left this device with it.
    const databases = () =>
      page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    await expect.poll(databases, { timeout: 30_000 }).not.toContain('lookalike-offline:scratch');
    expect(await databases()).toContain('lookalike-offline:resnet');
    const thumbCaches = () =>
      page.evaluate(async () =>
        (await caches.keys()).filter((name) => name.startsWith('lookalike-thumbs'))
      );
    await expect
      .poll(() => thumbCaches().then((names) => names.filter((n) => n.includes(':scratch:'))))
      .toEqual([]);
    await page.close();
  });

  it('opens the default, and says so, when a link names a collection the server lacks', async () => {
    const page = await context.newPage();
    await page.goto('/?backend=wasm&collection=gone');
    await page.getByTestId('missing-collection').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('missing-collection').textContent()).toContain('“gone”');
    await expect.poll(() => switcher(page).inputValue()).toBe('default');
    expect(new URL(page.url()).searchParams.has('collection')).toBe(false);
    await page.close();
  });

  it('switches collections offline, each searching its own saved copy with its own model', async () => {
    const page = await context.newPage();
    const savedCopy = () => page.getByTestId('saved-copy').textContent();
    await page.goto('/library?backend=wasm');
    await modelReady(page, 'Tiny');
    await expect
      .poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), {
        timeout: 60_000
      })
      .toBe(true);
    // Online, each collection shown is saved on the device (its model is cached as it loads).
    await expect.poll(savedCopy, { timeout: 60_000 }).toContain(`Saved copy: ${PICTURES} pictures`);
    await switcher(page).selectOption('resnet');
    await modelReady(page, 'ResNet-50');
    await expect.poll(savedCopy, { timeout: 60_000 }).toContain(`Saved copy: ${PICTURES} pictures`);

    await server.stop();
    try {
      await page.reload();
      await page
        .locator('[data-testid="app-status"][data-online="false"]')
        .waitFor({ timeout: 30_000 });
      expect(await switcher(page).inputValue()).toBe('resnet');
      await page.goto('/?backend=wasm');
      await modelReady(page, 'ResNet-50');
      const there = await searchWith(page, resnetPaths[3]!, 'res-03.jpg');
      expect(there.every((name) => name.startsWith('res-'))).toBe(true);
      expect(await page.getByTestId('offline-source').textContent()).toMatch(/copy on this device/);

      // The other collection, still offline: its model from this device, its copy, its pictures.
      await switcher(page).selectOption('default');
      await expect
        .poll(() => resultNames(page).then((names) => names[0]), { timeout: 120_000 })
        .toMatch(/^day-/);
      const back = await searchWith(page, defaultPaths[4]!, 'day-04.jpg');
      expect(back.every((name) => name.startsWith('day-'))).toBe(true);
      expect(await page.getByTestId('offline-source').textContent()).toMatch(/copy on this device/);
      await saveScreenshot(page, 'collections-offline');
    } finally {
      await server.start();
    }
    await page.close();
  }, 300_000);
});
