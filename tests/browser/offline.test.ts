import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexJob } from '../../src/lib/api/types';
import {
  hasChromium,
  launchChromium,
  saveScreenshot,
  searchThroughFileInput,
  startAppServer,
  type AppServer
} from '../helpers/browser';
import { generateFolder, type GeneratedFolder } from '../helpers/folders';
import { scene } from '../helpers/images';

/**
 * The installable, offline-capable app: manifest and icons, the service worker, and search that
 * keeps working from the snapshot saved on the device once the server is stopped — agreeing with
 * the server's own top-10 — then refreshing that snapshot when the server is back.
 */

const QUERIES = 6;

interface Manifest {
  name: string;
  short_name: string;
  start_url: string;
  display: string;
  theme_color: string;
  background_color: string;
  icons: { src: string; sizes: string; type: string; purpose?: string }[];
}

describe.skipIf(!hasChromium)('installable, offline-capable app in Chromium', () => {
  let server: AppServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let folder: GeneratedFolder;
  /** The server's top-10 ids for each query, shown by the page while online. */
  const online: number[][] = [];

  async function indexOverHttp(path: string): Promise<IndexJob> {
    const started = await fetch(`${server.url}/api/index`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path })
    });
    expect(started.status).toBe(202);
    const { jobId } = (await started.json()) as { jobId: string };
    for (;;) {
      const job = (await (await fetch(`${server.url}/api/index/${jobId}`)).json()) as IndexJob;
      if (['done', 'failed', 'cancelled', 'interrupted'].includes(job.state)) return job;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Searches with a file through the page's own file input; returns the result ids in order. */
  async function searchWith(file: string): Promise<number[]> {
    await searchThroughFileInput(page, file);
    return page.$$eval('ol[aria-label^="Results"] img', (images) =>
      images.map((img) =>
        Number(/\/api\/images\/(\d+)\/thumb/.exec(img.getAttribute('src') ?? '')?.[1])
      )
    );
  }

  /** Each result's thumbnail, once loaded or failed (they load lazily: scrolled into view). */
  function thumbnails(): Promise<{ id: number; width: number }[]> {
    return page.$$eval('ol[aria-label^="Results"] img', (images) =>
      Promise.all(
        (images as HTMLImageElement[]).map(async (img) => {
          img.scrollIntoView();
          await img.decode().catch(() => undefined);
          const id = Number(/\/api\/images\/(\d+)\/thumb/.exec(img.getAttribute('src') ?? '')?.[1]);
          return { id, width: img.naturalWidth };
        })
      )
    );
  }

  const savedCopy = () => page.getByTestId('saved-copy').textContent();

  /** The service worker's thumbnail caches and how many thumbnails each holds. */
  const thumbCaches = () =>
    page.evaluate(async () => {
      const found: Record<string, number> = {};
      for (const name of await caches.keys()) {
        if (name.startsWith('lookalike-thumbs-'))
          found[name] = (await (await caches.open(name)).keys()).length;
      }
      return found;
    });

  beforeAll(async () => {
    server = await startAppServer();
    folder = await generateFolder(join(server.imagesRoot, 'album'), 30);
    const job = await indexOverHttp(folder.root);
    expect(job.state).toBe('done');
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('offers what installing needs: manifest, icons, a service worker in control', async () => {
    const started = Date.now();
    await page.goto(server.url);
    await expect
      .poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), {
        timeout: 60_000
      })
      .toBe(true);
    const installMs = Date.now() - started;

    const head = await page.evaluate(() => ({
      manifest: document.querySelector('link[rel="manifest"]')?.getAttribute('href'),
      themeColor: document.querySelector('meta[name="theme-color"]')?.getAttribute('content'),
      appleIcon: document.querySelector('link[rel="apple-touch-icon"]')?.getAttribute('href'),
      favicon: document.querySelector('link[rel="icon"]')?.getAttribute('href')
    }));
    expect(head.manifest).toBe('/manifest.webmanifest');
    expect(head.themeColor).toMatch(/^#[0-9a-f]{6}$/i);

    const response = await fetch(`${server.url}${head.manifest}`);
    expect(response.headers.get('content-type')).toContain('application/manifest+json');
    const manifest = (await response.json()) as Manifest;
    expect(manifest).toMatchObject({
      short_name: 'Lookalike',
      start_url: '/',
      display: 'standalone'
    });
    expect(manifest.name.length).toBeGreaterThan(0);
    expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
    expect(manifest.background_color).toMatch(/^#[0-9a-f]{6}$/i);

    // Chromium's install criteria: a 192 px and a 512 px PNG; a maskable one for Android.
    const pngs = manifest.icons.filter((icon) => icon.type === 'image/png');
    for (const icon of [...pngs, { src: head.appleIcon!, sizes: '180x180', purpose: 'any' }]) {
      const bytes = Buffer.from(await (await fetch(new URL(icon.src, server.url))).arrayBuffer());
      const { width, height, format } = await sharp(bytes).metadata();
      expect(`${width}x${height}`, icon.src).toBe(icon.sizes);
      expect(format).toBe('png');
    }
    expect(pngs.map((i) => `${i.sizes} ${i.purpose ?? 'any'}`).sort()).toEqual([
      '192x192 any',
      '512x512 any',
      '512x512 maskable'
    ]);
    expect((await fetch(new URL(head.favicon!, server.url))).headers.get('content-type')).toContain(
      'image/svg+xml'
    );

    // What the worker keeps: the app shell and onnxruntime-web's .wasm, not the model.
    const shell = await page.evaluate(async () => {
      const name = (await caches.keys()).find((key) => key.startsWith('lookalike-shell-'));
      if (!name) return undefined;
      const cache = await caches.open(name);
      let bytes = 0;
      const paths: string[] = [];
      for (const request of await cache.keys()) {
        paths.push(new URL(request.url).pathname);
        bytes += (await (await cache.match(request))!.arrayBuffer()).byteLength;
      }
      return { paths, bytes };
    });
    expect(shell).toBeDefined();
    expect(shell!.paths).toContain('/');
    expect(shell!.paths.some((p) => p.endsWith('.wasm'))).toBe(true);
    expect(shell!.paths.some((p) => p.startsWith('/api/'))).toBe(false);
    console.log(
      `service worker: in control ${installMs} ms after navigation; shell cache ` +
        `${shell!.paths.length} files, ${(shell!.bytes / 1024 / 1024).toFixed(1)} MB`
    );
  });

  it('searches the saved snapshot once the server is stopped, like the server did', async () => {
    // Online: the snapshot is saved (the Library says so), and the server's answers are kept
    // to compare with.
    await page.getByRole('link', { name: 'Library', exact: true }).click();
    await expect
      .poll(savedCopy, { timeout: 60_000 })
      .toContain(`Saved copy: ${folder.distinct} pictures`);
    // After saving, the thumbnails of the saved pictures are fetched ahead, into the cache of
    // the collection's epoch (the snapshot version without its counter).
    const { version } = (await (
      await fetch(`${server.url}/api/index/snapshot/version`)
    ).json()) as { version: string };
    const epochCache = `lookalike-thumbs-${version.replace(/\.\d+$/, '')}`;
    await expect
      .poll(() => thumbCaches(), { timeout: 30_000 })
      .toEqual({ [epochCache]: folder.distinct });
    const queries = folder.good.slice(0, QUERIES).map((rel) => join(folder.root, rel));
    await page.getByRole('link', { name: 'Search', exact: true }).click();
    for (const query of queries) {
      online.push(await searchWith(query));
      // Shown, so the service worker keeps them.
      expect((await thumbnails()).every((t) => t.width > 0)).toBe(true);
    }
    expect(online.every((ids) => ids.length === 10)).toBe(true);

    await server.stop();
    await page.reload();
    // The header's status says it, once: offline, searching this device's copy of N pictures.
    const status = page.locator('[data-testid="app-status"][data-online="false"]');
    await status.waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await status.textContent()).toContain(`${folder.distinct} pictures`);

    const overlaps: number[] = [];
    for (const [q, query] of queries.entries()) {
      const offline = await searchWith(query);
      expect(offline).toHaveLength(10);
      // The query is in the collection: it finds itself first (its exact copy shares its id).
      expect(offline[0], query).toBe(online[q]![0]);
      overlaps.push(offline.filter((id) => online[q]!.includes(id)).length);
    }
    const mean = overlaps.reduce((a, b) => a + b, 0) / overlaps.length;
    console.log(
      `offline vs server top-10 overlap per query: ${overlaps.join(', ')} (mean ${mean})`
    );
    expect(mean).toBeGreaterThanOrEqual(9);
    expect(await page.getByTestId('offline-source').textContent()).toMatch(/copy on this device/);

    // Every result has its thumbnail: they were fetched ahead when the copy was saved.
    const thumbs = await thumbnails();
    expect(thumbs).toHaveLength(10);
    for (const thumb of thumbs) expect(thumb.width, `thumbnail of ${thumb.id}`).toBeGreaterThan(0);
    await saveScreenshot(page, 'offline-search');
  });

  it('refreshes the saved snapshot when the server is back with a changed collection', async () => {
    await server.start();
    const more = join(server.imagesRoot, 'more');
    await mkdir(more);
    for (let i = 0; i < 3; i++)
      await writeFile(join(more, `new-${i}.jpg`), await scene(300, 200, 500 + i));
    expect((await indexOverHttp(more)).indexed).toBe(3);
    const { version, count } = (await (
      await fetch(`${server.url}/api/index/snapshot/version`)
    ).json()) as { version: string; count: number };
    expect(count).toBe(folder.distinct + 3);

    await page.getByRole('link', { name: 'Library', exact: true }).click();
    // Tell the page the network is back rather than wait for its next health poll.
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await expect.poll(savedCopy, { timeout: 60_000 }).toContain(`Saved copy: ${count} pictures`);
    const stored = await page.evaluate(
      () =>
        new Promise<string | undefined>((resolve, reject) => {
          const open = indexedDB.open('lookalike-offline');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const get = open.result.transaction('snapshot').objectStore('snapshot').get('meta');
            get.onsuccess = () =>
              resolve((get.result as { version?: string } | undefined)?.version);
            get.onerror = () => reject(get.error);
          };
        })
    );
    expect(stored).toBe(version);
  });

  it('drops the kept thumbnails when the collection epoch changes (ids start again)', async () => {
    const kept = await thumbCaches();
    expect(Object.values(kept).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // What the page says when the server's database was recreated: another epoch.
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          const channel = new MessageChannel();
          channel.port1.onmessage = () => resolve();
          navigator.serviceWorker.controller!.postMessage(
            { type: 'lookalike:collection-epoch', epoch: '1-tiny-recreated' },
            [channel.port2]
          );
        })
    );
    // Every cache of the old epoch is gone. Thumbnails the page still shows may be fetched again
    // meanwhile: those are kept under the new epoch, which is right.
    const left = await thumbCaches();
    for (const name of Object.keys(kept)) expect(left).not.toHaveProperty([name]);
    expect(Object.keys(left).filter((name) => !name.endsWith('-1-tiny-recreated'))).toEqual([]);
  });
});
