import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Locator,
  type Page
} from 'playwright-core';
import { expect } from 'vitest';
import { loadConfig } from '../../server/config';
import { createApp } from '../../server/http/app';
import { createRuntime, type Runtime } from '../../server/runtime';
import { writeScenes } from '../http/helpers';
import { TEST_MODEL_CACHE } from './models';
import { BUILD_DIR } from './web-build';

/**
 * Browser tests drive Debian's Chromium (never a downloaded browser) through playwright-core,
 * against the production build served by the real server. Without Chromium they are skipped and
 * named; `.ci/run` installs it.
 */
export const CHROMIUM_PATH = process.env.LOOKALIKE_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);

/** Flags that keep a headless Chromium quiet on a machine without a network or a GPU. */
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
];

/**
 * `webgpu`: expose SwiftShader's software WebGPU adapter (slow; use the tiny model there).
 * `args`: more Chromium flags, e.g. `--ignore-certificate-errors-spki-list=…`.
 */
export function launchChromium(
  options: { webgpu?: boolean; args?: readonly string[] } = {}
): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      ...CHROMIUM_ARGS,
      ...(options.webgpu ? ['--enable-unsafe-webgpu'] : []),
      ...(options.args ?? [])
    ]
  });
}

export interface AppServer {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** The one allowed image root, empty at first. */
  imagesRoot: string;
  dataDir: string;
  runtime: Runtime;
  /** Stops answering HTTP (the page goes offline); the runtime stays open. */
  stop(): Promise<void>;
  /** Answers again on the same port after `stop()`. */
  start(): Promise<void>;
  /** Stops everything and removes the temporary folders. */
  close(): Promise<void>;
}

/** The real server (runtime + HTTP app + the web build) on a fresh temporary folder. */
export async function startAppServer(
  options: {
    model?: 'tiny' | 'synthetic-resnet50' | 'efficientnet-lite0';
    env?: Record<string, string>;
  } = {}
): Promise<AppServer> {
  if (!existsSync(join(BUILD_DIR, 'index.html'))) {
    throw new Error('No web build in build/: the test global setup should have built it');
  }
  const base = await mkdtemp(join(tmpdir(), 'lookalike-browser-'));
  const imagesRoot = join(base, 'images');
  const dataDir = join(base, 'data');
  await mkdir(imagesRoot, { recursive: true });
  const config = loadConfig(
    { model: options.model ?? 'tiny', dataDir, threads: 1 },
    { LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE, LOOKALIKE_IMAGE_ROOTS: imagesRoot, ...options.env }
  );
  const runtime = await createRuntime(config);
  const app = createApp(runtime, { staticDir: BUILD_DIR });

  let server: ServerType | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((done, fail) => {
      const s = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        done();
      });
      s.once('error', fail);
    });
  const stop = () =>
    new Promise<void>((done) => {
      const s = server;
      server = undefined;
      if (!s) return done();
      if ('closeAllConnections' in s) s.closeAllConnections();
      s.close(() => done());
    });
  await listen();

  return {
    url: `http://127.0.0.1:${port}`,
    imagesRoot,
    dataDir,
    runtime,
    stop,
    start: listen,
    async close() {
      await stop();
      await runtime.close().catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    }
  };
}

/** Keeps a screenshot as a test artefact: test-results/screenshots/<name>.png. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const dir = resolve('test-results/screenshots');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Waits until the page's in-browser model is ready on `backend` (WebAssembly unless said), and,
 * when `model` is given, that it is the model whose name contains it (the current collection's).
 * The header's status line carries both as data attributes on every screen.
 */
export async function waitForModel(
  page: Page,
  options: { backend?: 'wasm' | 'webgpu'; model?: string; timeout?: number } = {}
): Promise<void> {
  const model = options.model ? `[data-model*="${options.model}"]` : '';
  // WebAssembly runs as 'wasm' or 'wasm-threads'.
  const backend = `[data-encoder^="${options.backend ?? 'wasm'}"]`;
  await page
    .locator(`[data-testid="app-status"]${backend}${model}`)
    .waitFor({ timeout: options.timeout ?? 120_000 });
}

/**
 * Searches with a file through the page's own file input, as a user picking one does, and waits
 * for that search's results (or throws its error).
 */
export async function searchThroughFileInput(page: Page, file: string): Promise<void> {
  const input = page.getByTestId('file-input');
  await expect.poll(() => input.isEnabled(), { timeout: 120_000 }).toBe(true);
  // The summary of the previous search is replaced, not updated: mark it to wait for the next.
  await page.evaluate(() =>
    document.querySelector('[data-testid="search-summary"]')?.setAttribute('data-old', '')
  );
  await input.setInputFiles(file);
  const summary = page.locator('[data-testid="search-summary"]:not([data-old])');
  const failure = page.getByTestId('search-error');
  await summary.or(failure).first().waitFor({ timeout: 120_000 });
  if (await failure.count()) throw new Error(`Search failed: ${await failure.textContent()}`);
}

/** The two screens the page is judged on: a 390×844 phone (touch) and a 1280×800 desktop. */
export const PHONE_AND_DESKTOP = [
  { name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
  { name: 'desktop', viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false }
] as const;

const FINISHED = ['done', 'failed', 'cancelled', 'interrupted'];

/** Indexes the server's image root through the HTTP API, as the page's users would. */
export async function indexImageRoot(server: AppServer): Promise<void> {
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
    if (FINISHED.includes(job.state)) throw new Error(`index job ended ${job.state}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`index job ${jobId} did not finish`);
}

/** The result grid's items, in rank order. */
export const resultItems = (page: Page): Locator => page.locator('ol[aria-label^="Results"] > li');

/**
 * Opens the search page on WebAssembly and waits until the model is ready to search; page
 * errors are pushed to `errors` when given.
 */
export async function openSearchPage(
  context: BrowserContext,
  errors: string[] = [],
  path = '/?backend=wasm'
): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(path);
  await waitForModel(page);
  return page;
}

/** A server with indexed pictures and a browser context on it: what search tests start from. */
export interface SearchFixture {
  server: AppServer;
  browser: Browser;
  context: BrowserContext;
  /** The indexed pictures, img-00.jpg … in order. */
  paths: string[];
  close(): Promise<void>;
}

/**
 * The real server (tiny model unless said) with `pictures` generated 160 × 120 scenes indexed,
 * Chromium, and one context on the server's address (more options in `context`).
 */
export async function startSearchFixture(options: {
  pictures: number;
  model?: 'tiny' | 'synthetic-resnet50' | 'efficientnet-lite0';
  context?: BrowserContextOptions;
}): Promise<SearchFixture> {
  const server = await startAppServer({ model: options.model ?? 'tiny' });
  try {
    const paths = await writeScenes(server.imagesRoot, options.pictures, {
      width: 160,
      height: 120
    });
    await indexImageRoot(server);
    const browser = await launchChromium();
    const context = await browser.newContext({ baseURL: server.url, ...options.context });
    return {
      server,
      browser,
      context,
      paths,
      async close() {
        await context.close().catch(() => undefined);
        await browser.close();
        await server.close();
      }
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}
