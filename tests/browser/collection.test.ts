import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexJob } from '../../src/lib/api/types';
import {
  hasChromium,
  launchChromium,
  saveScreenshot,
  startAppServer,
  type AppServer
} from '../helpers/browser';
import { generateFolder } from '../helpers/folders';

/**
 * The collection panel against the real server: index a folder from the page and follow it to
 * the end, cancel a long job, clear with confirmation, and a path outside the allowed folders.
 */

/** Many small distinct pictures, cheap to write, so a job runs long enough to cancel. */
async function manyPictures(root: string, count: number): Promise<void> {
  await mkdir(root, { recursive: true });
  const size = 48;
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.alloc(size * size * 3);
    for (let p = 0; p < pixels.length; p++) pixels[p] = (p * 31 + i * 97 + ((p * i) % 251)) & 255;
    await sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toFile(join(root, `picture-${String(i).padStart(5, '0')}.png`));
  }
}

describe.skipIf(!hasChromium)('collection panel in Chromium', () => {
  let server: AppServer;
  let browser: Browser;

  const api = async <T>(path: string, init?: RequestInit) => {
    const response = await fetch(`${server.url}${path}`, init);
    expect(response.ok, `${path} answered ${response.status}`).toBe(true);
    return (await response.json()) as T;
  };
  const count = async () => (await api<{ count: number }>('/api/images/count')).count;

  async function openPage(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/library`);
    await page.getByTestId('image-count').waitFor();
    return page;
  }

  async function startIndexing(page: Page, path: string) {
    await page.getByLabel('Folder on the server').fill(path);
    await page.getByRole('button', { name: 'Start' }).click();
  }

  const shownCounters = (page: Page) =>
    page.$$eval('[data-counter]', (nodes) =>
      Object.fromEntries(
        nodes.map((n) => [
          (n as HTMLElement).dataset.counter,
          Number(n.querySelector('dd')?.textContent)
        ])
      )
    );

  beforeAll(async () => {
    // Batches of two: more progress events, and a long job is still running when cancelled.
    server = await startAppServer({ env: { LOOKALIKE_BATCH_SIZE: '2' } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('indexes a folder from the page and shows its progress to the end', async () => {
    const folder = await generateFolder(join(server.imagesRoot, 'album'), 10);
    const page = await openPage();
    const seenStates: string[] = [];
    await page.exposeFunction('reportState', (state: string) => seenStates.push(state));
    await page.evaluate(() => {
      const report = (window as unknown as { reportState: (s: string) => void }).reportState;
      new MutationObserver(() => {
        const state = document
          .querySelector('[aria-label="Index job"]')
          ?.getAttribute('data-state');
        if (state) report(state);
      }).observe(document.body, { subtree: true, attributes: true, childList: true });
    });

    await startIndexing(page, folder.root);
    await page.getByText('Finished.').waitFor({ timeout: 60_000 });
    expect(seenStates.at(-1)).toBe('done');

    const [job] = (await api<{ jobs: IndexJob[] }>('/api/index?limit=1')).jobs;
    expect(job?.state).toBe('done');
    expect(job?.indexed).toBe(folder.good.length);
    expect(await shownCounters(page)).toEqual({
      seen: job!.seen,
      indexed: job!.indexed,
      unchanged: job!.unchanged,
      skipped: job!.skipped,
      failed: job!.failed,
      removed: job!.removed
    });
    expect(job!.skipped + job!.failed).toBe(folder.skipped.length + folder.failed.length);
    const progress = page.getByRole('progressbar', { name: 'Indexing progress' });
    expect(await progress.getAttribute('value')).toBe('1');

    // Per-file errors: folded at first, each bad file with its reason once opened.
    // The stream brought every error (the job body lists only the first ones).
    expect(job!.errorCount).toBe(folder.skipped.length + folder.failed.length);
    const summary = page.getByText(`${job!.errorCount} files could not be indexed`);
    const list = page.locator('details.errors li');
    expect(await list.first().isVisible()).toBe(false);
    await summary.click();
    await expect.poll(() => list.count()).toBe(job!.errorCount);
    for (const bad of [...folder.skipped, ...folder.failed]) {
      await expect.poll(() => page.locator('details.errors').textContent()).toContain(bad);
    }
    expect(await list.first().isVisible()).toBe(true);

    const total = await count();
    expect(total).toBe(folder.distinct);
    await expect
      .poll(() => page.getByTestId('image-count').getAttribute('data-count'))
      .toBe(String(total));
    await saveScreenshot(page, 'collection-job-errors');
    await page.close();
  });

  it('cancels a running job', async () => {
    const root = join(server.imagesRoot, 'many');
    await manyPictures(root, 1500);
    const page = await openPage();
    await startIndexing(page, root);
    // Progress while it runs: an indeterminate bar (no total yet) and counters that grow.
    await expect
      .poll(async () => (await shownCounters(page)).seen ?? 0, { timeout: 30_000 })
      .toBeGreaterThan(0);
    await page.getByText('Indexing…').waitFor();
    expect(
      await page.getByRole('progressbar', { name: 'Indexing progress' }).getAttribute('value')
    ).toBeNull();
    await saveScreenshot(page, 'collection-progress');

    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText(/^Cancelled\./).waitFor({ timeout: 30_000 });
    const [job] = (await api<{ jobs: IndexJob[] }>('/api/index?limit=1')).jobs;
    expect(job?.state).toBe('cancelled');
    expect(job!.seen).toBeLessThan(1500);
    expect((await shownCounters(page)).seen).toBe(job!.seen);
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    await page.close();
  });

  it('follows a running job again after a reload', async () => {
    const root = join(server.imagesRoot, 'many');
    const page = await openPage();
    // The same folder again: what the cancelled job stored is unchanged, the rest is new work.
    await startIndexing(page, root);
    await page.getByText('Indexing…').waitFor({ timeout: 30_000 });
    await page.reload();
    await page.getByText('Indexing…').waitFor({ timeout: 30_000 });
    const [running] = (await api<{ jobs: IndexJob[] }>('/api/index?limit=1')).jobs;
    // The job names its folder (which the Library's folder list above names too).
    const jobView = page.getByRole('region', { name: 'Index job' });
    expect(await jobView.getByText(running!.path).count()).toBe(1);
    // Live again: the counters keep moving with the job.
    const first = (await shownCounters(page)).seen ?? 0;
    await expect
      .poll(async () => (await shownCounters(page)).seen ?? 0, { timeout: 30_000 })
      .toBeGreaterThan(first);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText(/^Cancelled\./).waitFor({ timeout: 30_000 });
    const [job] = (await api<{ jobs: IndexJob[] }>('/api/index?limit=1')).jobs;
    expect(job?.jobId).toBe(running!.jobId);
    expect(job?.state).toBe('cancelled');
    expect((await shownCounters(page)).seen).toBe(job!.seen);
    await page.close();
  });

  it('clears the collection after a confirmation', async () => {
    const before = await count();
    expect(before).toBeGreaterThan(0);
    const page = await openPage();
    await page.getByRole('button', { name: 'Clear collection…' }).click();
    const dialog = page.getByRole('alertdialog');
    expect(await dialog.textContent()).toContain(`forget ${before} pictures`);
    await dialog.getByRole('button', { name: `Forget ${before} pictures` }).click();
    await expect.poll(() => page.getByTestId('image-count').getAttribute('data-count')).toBe('0');
    expect(await count()).toBe(0);
    expect(await page.getByTestId('image-count').textContent()).toContain('empty');
    await page.close();
  });

  it("shows the server's message for a path outside the allowed folders", async () => {
    const page = await openPage();
    await startIndexing(page, '/etc');
    const alert = page.getByRole('alert').filter({ hasText: 'Indexing did not start' });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/outside|allowed/i);
    await startIndexing(page, join(server.imagesRoot, 'no such folder'));
    await expect.poll(() => alert.textContent()).toContain('No such folder or file');
    await page.close();
  });
});

describe.skipIf(!hasChromium)('collection panel with an admin token in Chromium', () => {
  const TOKEN = 'browser-test-token_42';
  let server: AppServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startAppServer({ env: { LOOKALIKE_ADMIN_TOKEN: TOKEN } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('asks for the token when indexing is refused, then indexes with it', async () => {
    const folder = await generateFolder(join(server.imagesRoot, 'album'), 4);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/library`);
    await page.getByTestId('image-count').waitFor();
    await page.getByLabel('Folder on the server').fill(folder.root);
    await page.getByRole('button', { name: 'Start' }).click();

    const form = page.getByTestId('admin-token');
    await form.waitFor();
    expect(await form.textContent()).toContain(
      'This server needs its admin token to change the collection'
    );
    await page.getByLabel('Admin token', { exact: true }).fill('not-the-token');
    await page.getByRole('button', { name: 'Use token' }).click();
    await form.getByRole('alert').filter({ hasText: 'Wrong bearer token' }).waitFor();

    await page.getByLabel('Admin token', { exact: true }).fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.getByText('Finished.').waitFor({ timeout: 60_000 });
    expect(await form.count()).toBe(0);
    const { count } = (await (await fetch(`${server.url}/api/images/count`)).json()) as {
      count: number;
    };
    expect(count).toBe(folder.distinct);
    await expect
      .poll(() => page.getByTestId('image-count').getAttribute('data-count'))
      .toBe(String(count));
    // Kept for this tab only, and sent with the next change without asking again.
    expect(await page.evaluate(() => sessionStorage.getItem('lookalike-admin-token'))).toBe(TOKEN);
    await page.getByRole('button', { name: 'Clear collection…' }).click();
    await page.getByRole('button', { name: `Forget ${count} pictures` }).click();
    await expect.poll(() => page.getByTestId('image-count').getAttribute('data-count')).toBe('0');
    expect(await form.count()).toBe(0);
    await page.close();
  });
});
