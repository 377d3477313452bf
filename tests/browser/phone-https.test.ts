import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  launchChromium,
  saveScreenshot,
  searchThroughFileInput,
  waitForModel
} from '../helpers/browser';
import {
  cleanupCliTempDirs,
  cliTempDir,
  runCli,
  startCli,
  type CliProcess,
  type CliResult
} from '../helpers/cli';
import { makeLocalCaCertificate, type LocalCaCertificate } from '../helpers/tls';
import { writeScenes } from '../http/helpers';

/**
 * A phone on the LAN, end to end: a real `lookalike serve` on HOST=0.0.0.0 opened by Chromium
 * emulating a phone at this machine's LAN address. Over plain HTTP that address is not a secure
 * context (Chromium treats only localhost and 127.x as trustworthy), so the page must say once what
 * is lost and still search; over HTTPS, with a certificate for that address issued by a local CA
 * and trusted the way a phone would trust it (here: Chromium's SPKI list, not "ignore errors",
 * which would not give a secure context), the service worker, threads and offline search work.
 */

const PICTURES = 12;

/** This machine's first non-internal IPv4 address: what a phone on the same network opens. */
function lanAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  // 127.0.0.2 would not do: Chromium counts every loopback address as a secure context.
  throw new Error('This machine has no non-internal IPv4 address: a phone could not reach it');
}

/** Chromium as a phone: small portrait viewport, touch, 3× pixels, a mobile user agent. */
function phoneContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 3,
    colorScheme: 'light',
    userAgent:
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) ' +
      'Chrome/126.0.0.0 Mobile Safari/537.36'
  });
}

const output = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

const resultNames = (page: Page) =>
  page
    .locator('ol[aria-label^="Results"] > li img')
    .evaluateAll((images) => images.map((img) => img.getAttribute('alt')));

/** Searches with a file through the page's own file input; returns the results' file names. */
async function searchWith(page: Page, file: string): Promise<(string | null)[]> {
  await searchThroughFileInput(page, file);
  return resultNames(page);
}

describe.skipIf(!hasChromium)('a phone on the LAN, over plain HTTP and over HTTPS', () => {
  const lan = lanAddress();
  let dataDir: string;
  let images: string;
  let paths: string[];
  let certificate: LocalCaCertificate;
  let browser: Browser;
  const servers: CliProcess[] = [];

  /** `lookalike serve` on every address, the way the README tells phone users to start it. */
  async function serve(args: string[] = []): Promise<{ cli: CliProcess; lanUrl: string }> {
    // One serve per data directory: one left running by a failed test is ended first.
    for (const running of servers) {
      if (running.child.exitCode === null && running.child.signalCode === null) {
        running.child.kill('SIGKILL');
        await running.exited;
      }
    }
    const cli = await startCli(['serve', '--model', 'tiny', '--port', '0', ...args], {
      dataDir,
      env: { HOST: '0.0.0.0', LOG_LEVEL: 'warn', LOOKALIKE_IMAGE_ROOTS: images },
      timeoutMs: 600_000
    });
    servers.push(cli);
    const [, urls] = await cli.waitForStderr(/From a phone or another computer: (.*)\n/, 120_000);
    const lanUrl = urls!.split(/\s+/).find((url) => new URL(url).hostname === lan);
    expect(lanUrl, `serve printed ${urls}, not this machine's ${lan}`).toBeDefined();
    return { cli, lanUrl: lanUrl! };
  }

  async function stop(cli: CliProcess): Promise<void> {
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
  }

  beforeAll(async () => {
    dataDir = await cliTempDir('lookalike-phone-data-');
    images = await cliTempDir('lookalike-phone-images-');
    paths = await writeScenes(join(images, 'photos'), PICTURES, { width: 160, height: 120 });
    // Indexed once by the CLI before either server starts; both serve this data directory.
    const indexed = await runCli(['index', '--model', 'tiny', join(images, 'photos')], {
      dataDir,
      env: { LOOKALIKE_IMAGE_ROOTS: images },
      timeoutMs: 120_000
    });
    expect(indexed.code, output(indexed)).toBe(0);
    certificate = makeLocalCaCertificate(await cliTempDir('lookalike-phone-tls-'), [
      'localhost',
      '127.0.0.1',
      lan
    ]);
    browser = await launchChromium({
      args: [`--ignore-certificate-errors-spki-list=${certificate.spki}`]
    });
  });
  afterAll(async () => {
    await browser?.close();
    for (const cli of servers) {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    }
    await cleanupCliTempDirs();
  });

  it('over plain HTTP: says once what is lost and how to get it, and still searches', async () => {
    const { cli, lanUrl } = await serve();
    expect(lanUrl).toMatch(/^http:/);
    // serve says it too, in its terminal.
    await cli.waitForStderr(/Over plain HTTP a phone cannot search offline/, 10_000);

    const context = await phoneContext(browser);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(lanUrl);
    expect(await page.evaluate(() => [isSecureContext, crossOriginIsolated])).toEqual([
      false,
      false
    ]);
    expect(await page.evaluate(() => 'serviceWorker' in navigator)).toBe(false);

    // One note, naming each thing lost and the way out.
    const note = page.getByTestId('insecure-note');
    await note.waitFor({ timeout: 30_000 });
    expect(await note.count()).toBe(1);
    const said = (await note.innerText()).replace(/\s+/g, ' ');
    expect(said).toMatch(/offline search/i);
    expect(said).toMatch(/install/i);
    expect(said).toMatch(/thread/i);
    expect(said).toMatch(/HTTPS/);
    expect(await note.isVisible()).toBe(true);

    // The model runs on one WebAssembly thread (no isolation), and search works.
    await waitForModel(page);
    expect(
      await page.getByTestId('app-status').getAttribute('data-encoder'),
      'no cross-origin isolation: one thread'
    ).toBe('wasm');
    const names = await searchWith(page, paths[3]!);
    expect(names).toHaveLength(10);
    expect(names[0]).toBe('img-03.jpg');
    // Nothing on the page blames WebGPU for what the missing secure context took away.
    const text = await page.locator('body').innerText();
    expect(text).not.toMatch(/WebGPU/);
    // Said once: only the note speaks of plain HTTP.
    expect(text.match(/plain HTTP/g)).toHaveLength(1);
    await saveScreenshot(page, 'phone-http-note');

    // The Check screen names why WebGPU is not used: the page is not secure (navigator.gpu
    // exists only in secure contexts), not that this browser lacks WebGPU.
    await page.goto(`${lanUrl}/check`);
    await page.getByTestId('encoder').waitFor({ timeout: 120_000 });
    const why = await page.getByTestId('fallback-reason').innerText();
    expect(why).not.toMatch(/no WebGPU/);
    expect(why).toMatch(/secure page \(HTTPS/);
    expect(errors).toEqual([]);

    await context.close();
    await stop(cli);
  });

  it('over HTTPS with a certificate for the LAN address: service worker, threads, offline search', async () => {
    const { cli, lanUrl } = await serve([
      '--tls-cert',
      certificate.cert,
      '--tls-key',
      certificate.key
    ]);
    expect(lanUrl).toMatch(/^https:/);
    const context = await phoneContext(browser);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(lanUrl);
    expect(await page.evaluate(() => [isSecureContext, crossOriginIsolated])).toEqual([true, true]);
    // The service worker registers and takes control: what offline search and installing need.
    const scope = await page.evaluate(() =>
      Promise.race([
        navigator.serviceWorker.ready.then((registration) => registration.scope),
        new Promise<string>((resolve) => setTimeout(() => resolve('not ready in 60 s'), 60_000))
      ])
    );
    expect(scope).toBe(`${lanUrl}/`);
    await expect
      .poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), {
        timeout: 60_000
      })
      .toBe(true);
    await waitForModel(page);
    expect(await page.getByTestId('insecure-note').count()).toBe(0);
    expect(
      await page.getByTestId('app-status').getAttribute('data-encoder'),
      'cross-origin isolated: WebAssembly threads'
    ).toBe('wasm-threads');
    const names = await searchWith(page, paths[5]!);
    expect(names).toHaveLength(10);
    expect(names[0]).toBe('img-05.jpg');
    await saveScreenshot(page, 'phone-https-search');

    // The copy for offline search is saved on the phone; offline, search runs on it.
    await page.goto(`${lanUrl}/library`);
    await expect
      .poll(() => page.getByTestId('saved-copy').textContent(), { timeout: 60_000 })
      .toContain(`Saved copy: ${PICTURES} pictures`);
    await page.goto(lanUrl);
    await context.setOffline(true);
    await page.reload();
    await page
      .locator('[data-testid="app-status"][data-online="false"]')
      .waitFor({ timeout: 60_000 });
    await waitForModel(page);
    const offline = await searchWith(page, paths[7]!);
    expect(offline).toHaveLength(10);
    expect(offline[0]).toBe('img-07.jpg');
    const source = await page.getByTestId('offline-source').textContent();
    expect(source).toMatch(/from the copy\b.*\bsaved\b/i);
    expect(source).toContain(`${PICTURES} pictures`);
    await saveScreenshot(page, 'phone-https-offline-search');
    expect(errors).toEqual([]);
    // The certificate names every address serve printed: no warning in its terminal.
    expect(cli.stderr()).not.toMatch(/certificate does not name/);

    await context.close();
    await stop(cli);
  });
});
