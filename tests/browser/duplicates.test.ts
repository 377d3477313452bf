import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  launchChromium,
  saveScreenshot,
  startAppServer,
  type AppServer
} from '../helpers/browser';
import { scene } from '../helpers/images';

/**
 * The Duplicates screen against the real server and Chromium: an indexed folder with a picture,
 * a re-encoded copy and a resized copy shows one group with the original suggested; moving a copy
 * to the trash takes it off the page and out of search, and Restore brings it back.
 */
describe.skipIf(!hasChromium)('Duplicates screen in Chromium', () => {
  let server: AppServer;
  let browser: Browser;
  const f = {} as Record<'original' | 'webp' | 'small' | 'other', string>;

  async function api<T>(path: string, init?: RequestInit): Promise<T> {
    const response = await fetch(`${server.url}${path}`, init);
    expect(response.ok, `${path} answered ${response.status}`).toBe(true);
    return (await response.json()) as T;
  }

  async function indexAll() {
    const { jobId } = await api<{ jobId: string }>('/api/index', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: server.imagesRoot })
    });
    await expect
      .poll(async () => (await api<{ state: string }>(`/api/index/${jobId}`)).state, {
        timeout: 60_000
      })
      .toBe('done');
  }

  /** The paths search finds for these bytes (encoded on the server). */
  async function searchPaths(bytes: Buffer): Promise<string[]> {
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(bytes)]), 'query.jpg');
    form.append('topK', '20');
    const body = await api<{ results: { path: string }[] }>('/api/search/image', {
      method: 'POST',
      body: form
    });
    return body.results.map((r) => r.path);
  }

  async function openScreen(width: number, height: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${server.url}/duplicates`);
    return page;
  }

  const members = (page: Page) => page.getByTestId('duplicate-member');

  beforeAll(async () => {
    server = await startAppServer();
    browser = await launchChromium();
    const root = server.imagesRoot;
    Object.assign(f, {
      original: join(root, 'original.png'),
      webp: join(root, 'copies', 'original.webp'),
      small: join(root, 'copies', 'small.jpg'),
      other: join(root, 'other.jpg')
    });
    await mkdir(join(root, 'copies'));
    await writeFile(f.original, await scene(320, 240, 1, 'png'));
    const original = await readFile(f.original);
    await writeFile(f.webp, await sharp(original).webp({ quality: 80 }).toBuffer());
    await writeFile(f.small, await sharp(original).resize(160, 120).jpeg().toBuffer());
    await writeFile(f.other, await scene(320, 240, 7));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('says so when the collection has no duplicates', async () => {
    const page = await openScreen(390, 844);
    await page.getByTestId('duplicates-empty').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('trash').textContent()).toContain('Nothing in the trash');
    await page.close();
  });

  it('shows the copies as one group with the original to keep, trashes and restores', async () => {
    await indexAll();
    const page = await openScreen(390, 844);
    await expect.poll(() => members(page).count(), { timeout: 30_000 }).toBe(3);
    const groups = page.locator('article[data-reason]');
    expect(await groups.count()).toBe(1);
    expect(await groups.first().getAttribute('data-reason')).toBe('same-picture');
    expect(await groups.first().textContent()).toContain('Same picture, re-encoded or resized');

    // The original is suggested (the same pixels as the WebP, in a lossless format), with why.
    const keeper = members(page).filter({ has: page.getByTestId('suggested-keep') });
    expect(await keeper.count()).toBe(1);
    expect(await keeper.textContent()).toContain(f.original);
    expect(await keeper.textContent()).toContain('better format (PNG over WEBP)');
    expect(await keeper.textContent()).toContain('320×240');
    // Every other file is picked at first; the keeper's is not.
    const box = (path: string) => page.getByRole('checkbox', { name: path });
    expect(await box(f.original).isChecked()).toBe(false);
    expect(await box(f.webp).isChecked()).toBe(true);
    expect(await box(f.small).isChecked()).toBe(true);
    // No horizontal scrolling on a phone.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390
    );
    await saveScreenshot(page, 'duplicates-phone-light');

    // Only the resized copy: nothing happens until confirmed.
    await box(f.webp).uncheck();
    await page.getByRole('button', { name: 'Move 1 file to trash…' }).click();
    expect(await stat(f.small)).toBeTruthy();
    await page.getByRole('button', { name: 'Move 1 file', exact: true }).click();

    await expect.poll(() => members(page).count(), { timeout: 30_000 }).toBe(2);
    const entry = page.getByTestId('trash-entry');
    await expect.poll(() => entry.count()).toBe(1);
    expect(await entry.textContent()).toContain(f.small);
    const trashed = join(server.imagesRoot, '.lookalike-trash', 'files', 'copies', 'small.jpg');
    const smallBytes = await readFile(trashed);
    await expect(stat(f.small)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await searchPaths(smallBytes)).not.toContain(f.small);
    await saveScreenshot(page, 'duplicates-phone-trash');

    await page.getByRole('button', { name: `Restore ${f.small}` }).click();
    await expect.poll(() => members(page).count(), { timeout: 30_000 }).toBe(3);
    await expect.poll(() => entry.count()).toBe(0);
    expect(await readFile(f.small)).toEqual(smallBytes);
    expect(await searchPaths(smallBytes)).toContain(f.small);
    await page.close();
  });

  it('asks for the admin token when the server has one, then moves', async () => {
    const guarded = await startAppServer({ env: { LOOKALIKE_ADMIN_TOKEN: 'open-sesame' } });
    try {
      await writeFile(join(guarded.imagesRoot, 'a.png'), await readFile(f.original));
      await writeFile(join(guarded.imagesRoot, 'b.webp'), await readFile(f.webp));
      const started = await fetch(`${guarded.url}/api/index`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer open-sesame' },
        body: JSON.stringify({ path: guarded.imagesRoot })
      });
      const { jobId } = (await started.json()) as { jobId: string };
      await expect
        .poll(
          async () =>
            ((await (await fetch(`${guarded.url}/api/index/${jobId}`)).json()) as { state: string })
              .state
        )
        .toBe('done');
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await page.goto(`${guarded.url}/duplicates`);
      await expect.poll(() => members(page).count(), { timeout: 30_000 }).toBe(2);
      await page.getByRole('button', { name: 'Move 1 file to trash…' }).click();
      await page.getByRole('button', { name: 'Move 1 file', exact: true }).click();
      const form = page.getByTestId('admin-token');
      await form.waitFor();
      expect(await stat(join(guarded.imagesRoot, 'b.webp'))).toBeTruthy();
      await form.getByLabel('Admin token').fill('open-sesame');
      await form.getByRole('button', { name: 'Use token' }).click();
      await expect.poll(() => members(page).count(), { timeout: 30_000 }).toBe(0);
      await expect.poll(() => page.getByTestId('trash-entry').count()).toBe(1);
      await expect(stat(join(guarded.imagesRoot, 'b.webp'))).rejects.toMatchObject({
        code: 'ENOENT'
      });
      await page.close();
    } finally {
      await guarded.close();
    }
  });

  it('reads on a desktop in dark mode, and says when the server is away', async () => {
    const page = await browser.newPage({
      viewport: { width: 1280, height: 900 },
      colorScheme: 'dark'
    });
    await page.goto(`${server.url}/duplicates`);
    await expect.poll(() => members(page).count(), { timeout: 30_000 }).toBe(3);
    // The cards share the wide row (no empty columns beside them), so paths have the room.
    for (const box of await members(page).evaluateAll((cards) =>
      cards.map((card) => card.getBoundingClientRect().width)
    )) {
      expect(box).toBeGreaterThan(320);
    }
    await saveScreenshot(page, 'duplicates-desktop-dark');

    await server.stop();
    await page.getByRole('button', { name: 'Look again' }).click();
    await page.getByTestId('duplicates-offline').waitFor({ timeout: 30_000 });
    expect(await members(page).count()).toBe(0);
    await saveScreenshot(page, 'duplicates-desktop-offline');
    await server.start();
    // Back by itself once the page sees the server again.
    await expect.poll(() => members(page).count(), { timeout: 60_000 }).toBe(3);
    await page.close();
  });
});
