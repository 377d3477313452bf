import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium, startAppServer, type AppServer } from '../helpers/browser';

describe.skipIf(!hasChromium)('the production build in Chromium', () => {
  let server: AppServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startAppServer();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads cross-origin isolated, so onnxruntime-web can use threads', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(server.url);
    await expect.poll(() => page.evaluate(() => document.title)).toContain('Lookalike');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('serves a deep link with the single-page fallback', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${server.url}/some/deep/link`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['cross-origin-embedder-policy']).toBe('require-corp');
  });
});
