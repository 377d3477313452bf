import {
  copyFile,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  utimes,
  writeFile
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '#core/vector';
import {
  hasChromium,
  launchChromium,
  saveScreenshot,
  startAppServer,
  type AppServer
} from '../helpers/browser';
import { patternPixels, rawImage, scene, scenePixels } from '../helpers/images';
import { testModel } from '../helpers/models';
import { realModel } from '../helpers/real-model';

/** Real photographs (Debian's darknet package) kept with the converter's tests. */
const REAL_PHOTOS = join(import.meta.dirname, '../fixtures/efficientnet-lite0');

/**
 * The in-browser encoder against the server's, in Chromium on the production build: parity on
 * varied pictures (the issue's contract: cosine ≥ 0.999), WebGPU equal to WASM, the model kept in
 * the Cache API, and a readable error for a file that is not a picture.
 */

interface Sample {
  name: string;
  bytes: Buffer;
}

/** With EXIF orientation `orientation`: the stored pixels are turned, the viewer turns them back. */
const oriented = (orientation: number) =>
  rawImage(scenePixels(480, 320, 30 + orientation), 480, 320)
    .withMetadata({ orientation })
    .jpeg({ quality: 90 })
    .toBuffer();

/** A picture with soft and hard transparency, so the white background shows through. */
function withAlpha(width: number, height: number, seed: number): Promise<Buffer> {
  const rgb = scenePixels(width, height, seed);
  const px = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const x = i % width;
    const y = Math.floor(i / width);
    px.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
    px[i * 4 + 3] = x < width / 4 ? 0 : Math.min(255, Math.round((255 * y) / height) + 40);
  }
  return rawImage(px, width, height, 4).png().toBuffer();
}

/**
 * Fine detail that resampling must treat exactly like the server: a 12-pixel wave plus noise
 * (decoding JPEG at reduced scale on load, as sharp can, moves this by 4 levels or more).
 */
function fineDetail(width: number, height: number, seed: number): Promise<Buffer> {
  const noise = patternPixels(width, height, seed);
  const px = new Uint8Array(width * height * 3);
  for (let i = 0; i < px.length; i++) {
    const p = Math.floor(i / 3);
    const wave = 128 + 90 * Math.sin((p % width) / 1.9 + Math.floor(p / width) / 97 + (i % 3));
    px[i] = Math.max(0, Math.min(255, Math.round(wave + (noise[i]! - 128) / 8)));
  }
  return rawImage(px, width, height).jpeg({ quality: 85 }).toBuffer();
}

/** At least 20 pictures covering the formats, shapes and encodings people search with. */
async function paritySamples(): Promise<Sample[]> {
  const jpeg = (w: number, h: number, seed: number, quality: number) =>
    rawImage(scenePixels(w, h, seed), w, h)
      .jpeg({ quality })
      .toBuffer();
  const gray = rawImage(scenePixels(400, 300, 11), 400, 300).greyscale();
  const samples: [string, Promise<Buffer>][] = [
    ['photo-q90.jpg', jpeg(640, 480, 1, 90)],
    ['photo-q75.jpg', jpeg(1024, 768, 2, 75)],
    ['photo-q90-odd-size.jpg', jpeg(777, 555, 3, 90)],
    ['portrait.jpg', jpeg(600, 900, 4, 90)],
    ['square-no-resize.png', scene(256, 256, 5, 'png')],
    ['alpha.png', withAlpha(500, 400, 6)],
    ['alpha-small.png', withAlpha(120, 90, 7)],
    ['exif-2.jpg', oriented(2)],
    ['exif-3.jpg', oriented(3)],
    ['exif-5.jpg', oriented(5)],
    ['exif-6.jpg', oriented(6)],
    ['exif-8.jpg', oriented(8)],
    ['grayscale.jpg', gray.clone().jpeg({ quality: 90 }).toBuffer()],
    ['grayscale.png', gray.clone().png().toBuffer()],
    ['tiny-40x30.png', scene(40, 30, 12, 'png')],
    ['tiny-8x8.png', scene(8, 8, 13, 'png')],
    ['small-upscaled.jpg', jpeg(150, 100, 14, 90)],
    ['panorama-2000x400.jpg', jpeg(2000, 400, 15, 90)],
    ['large-3000x2000.jpg', jpeg(3000, 2000, 16, 85)],
    [
      '16-bit.png',
      rawImage(scenePixels(320, 240, 17), 320, 240)
        .toColourspace('rgb16')
        .png()
        .toBuffer()
    ],
    [
      'photo.webp',
      rawImage(scenePixels(500, 375, 18), 500, 375)
        .webp({ quality: 85 })
        .toBuffer()
    ],
    [
      'photo.gif',
      rawImage(scenePixels(300, 200, 19), 300, 200)
        .gif()
        .toBuffer()
    ],
    ['fine-detail-1024x768.jpg', fineDetail(1024, 768, 23)],
    ['fine-detail-4000x3000.jpg', fineDetail(4000, 3000, 24)],
    [
      'noise.png',
      rawImage(patternPixels(512, 384, 20), 512, 384)
        .png()
        .toBuffer()
    ],
    [
      'noise-q90.jpg',
      rawImage(patternPixels(800, 600, 21), 800, 600)
        .jpeg({ quality: 90 })
        .toBuffer()
    ],
    [
      'display-p3.jpg',
      rawImage(scenePixels(480, 360, 22), 480, 360)
        .withIccProfile('p3')
        .jpeg({ quality: 90 })
        .toBuffer()
    ]
  ];
  return Promise.all(samples.map(async ([name, bytes]) => ({ name, bytes: await bytes })));
}

interface Row {
  name: string;
  cosine?: number;
  error?: string;
}

/** Opens /check (with `?debug`, for `window.lookalikeCheck`) and waits until its encoder is ready. */
async function openCheck(page: Page, url: string, backend?: 'wasm' | 'webgpu') {
  await page.goto(`${url}/check?debug${backend ? `&backend=${backend}` : ''}`);
  const ready = page.locator('[data-testid="encoder"], [data-testid="load-error"]');
  await ready.first().waitFor({ timeout: 120_000 });
  const failure = page.getByTestId('load-error');
  if (await failure.count()) throw new Error(`Encoder failed: ${await failure.textContent()}`);
  return page.getByTestId('encoder');
}

/** Picks files in the /check page and reads its table once every row is finished. */
async function checkFiles(page: Page, dir: string, samples: Sample[]): Promise<Row[]> {
  const paths: string[] = [];
  for (const sample of samples) {
    const path = join(dir, sample.name);
    await writeFile(path, sample.bytes);
    paths.push(path);
  }
  await page.getByLabel('Pictures to check').setInputFiles(paths);
  const rows = page.locator('[data-testid="results"] tbody tr');
  await expect.poll(() => rows.count()).toBe(samples.length);
  await expect
    .poll(
      () =>
        rows.evaluateAll((trs) =>
          trs.every((tr) => tr.hasAttribute('data-cosine') || tr.hasAttribute('data-error'))
        ),
      { timeout: 300_000, interval: 250 }
    )
    .toBe(true);
  return rows.evaluateAll((trs) =>
    trs.map((tr) => ({
      name: tr.getAttribute('data-name') ?? '',
      ...(tr.hasAttribute('data-cosine') ? { cosine: Number(tr.getAttribute('data-cosine')) } : {}),
      ...(tr.hasAttribute('data-error') ? { error: tr.getAttribute('data-error') ?? '' } : {})
    }))
  );
}

/** What the /check page exposes on `window.lookalikeCheck` (for the console and these tests). */
interface PageHook {
  encoder: {
    encode(
      blob: Blob,
      region: undefined,
      options: { keepInput: boolean }
    ): Promise<{ vector: Float32Array; input?: Uint8ClampedArray; backend: string }>;
  };
  fetchModelInfo(): Promise<{ info: { id: string; dimension: number }; fromCache: boolean }>;
}

/** The browser's vector and model-input pixels for some bytes, through the page's encoder. */
async function encodeInPage(page: Page, bytes: Buffer) {
  // Base64 both ways: arrays of numbers of a few MB make page.evaluate crawl.
  const result = await page.evaluate(async (data) => {
    const { encoder } = (window as unknown as { lookalikeCheck: PageHook }).lookalikeCheck;
    const blob = new Blob([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))]);
    const { vector, input, backend } = await encoder.encode(blob, undefined, { keepInput: true });
    let binary = '';
    for (const value of input ?? []) binary += String.fromCharCode(value);
    return { vector: Array.from(vector), input: btoa(binary), backend };
  }, bytes.toString('base64'));
  return { ...result, input: new Uint8Array(Buffer.from(result.input, 'base64')) };
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lookalike-encoder-test-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe.skipIf(!hasChromium)('browser encoder parity (synthetic ResNet-50, WASM)', () => {
  let server: AppServer;
  let browser: Browser;
  let page: Page;
  let samples: Sample[];
  let encoder: Locator;

  beforeAll(async () => {
    [server, browser, samples] = await Promise.all([
      startAppServer({ model: 'synthetic-resnet50' }),
      launchChromium(),
      paritySamples()
    ]);
    page = await browser.newPage();
    encoder = await openCheck(page, server.url, 'wasm');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('gives the server’s vector for every one of 27 varied pictures (cosine ≥ 0.999)', async () => {
    expect(samples.length).toBeGreaterThanOrEqual(20);
    expect(await encoder.getAttribute('data-backend')).toMatch(/^wasm/);
    const rows = await checkFiles(page, tmp, samples);
    await saveScreenshot(page, 'check-parity');
    const cosines = rows.map((r) => r.cosine ?? NaN);
    console.log(
      `parity over ${rows.length} pictures: min ${Math.min(...cosines).toFixed(6)}, ` +
        `mean ${(cosines.reduce((a, b) => a + b, 0) / cosines.length).toFixed(6)}\n` +
        rows.map((r) => `  ${r.name}: ${r.cosine?.toFixed(6) ?? r.error}`).join('\n')
    );
    for (const row of rows) {
      expect(row.error, row.name).toBeUndefined();
      expect(row.cosine, row.name).toBeGreaterThanOrEqual(0.999);
    }
  });

  it('feeds the model the same pixels as the server, to within JPEG and resampling rounding', async () => {
    // Random weights make vectors forgiving; the input pixels show any drift directly.
    const { manifest } = await testModel('synthetic-resnet50');
    const report: string[] = [];
    for (const sample of samples) {
      const browserSide = await encodeInPage(page, sample.bytes);
      const serverSide = await server.runtime.decoder.decode(sample.bytes, manifest);
      expect(browserSide.input.length, sample.name).toBe(serverSide.pixels.length);
      let sum = 0;
      let max = 0;
      for (let i = 0; i < browserSide.input.length; i++) {
        const d = Math.abs(browserSide.input[i]! - serverSide.pixels[i]!);
        sum += d;
        max = Math.max(max, d);
      }
      const mean = sum / browserSide.input.length;
      report.push(`  ${sample.name}: mean ${mean.toFixed(3)}, max ${max}`);
      // Measured: 0–0.5 levels (WebP 1.2, decoded at reduced scale on the server). A wrong
      // orientation, crop, colour conversion or background is 10 or more.
      expect(mean, sample.name).toBeLessThan(2);
    }
    console.log(`model-input pixels, browser vs server (0–255):\n${report.join('\n')}`);
  }, 300_000);
});

describe.skipIf(!hasChromium)(
  'browser encoder parity (real EfficientNet-Lite0: float16 copy in the browser, WASM)',
  () => {
    let server: AppServer;
    let browser: Browser;
    let page: Page;
    let samples: Sample[];
    /** Sizes of the model files the page downloaded. */
    const downloads: number[] = [];

    beforeAll(async () => {
      const { browserPath } = await realModel();
      [server, browser, samples] = await Promise.all([
        startAppServer({ model: 'efficientnet-lite0' }),
        launchChromium(),
        paritySamples()
      ]);
      expect(server.runtime.model.browserPath).toBe(browserPath);
      for (const name of await readdir(REAL_PHOTOS)) {
        if (name.endsWith('.jpg'))
          samples.push({ name, bytes: await readFile(join(REAL_PHOTOS, name)) });
      }
      page = await browser.newPage();
      page.on('response', (response) => {
        if (new URL(response.url()).pathname === '/api/model/file')
          void response.body().then((body) => downloads.push(body.length));
      });
      await openCheck(page, server.url, 'wasm');
    });
    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    it("downloads the float16 copy and gives the server's float32 vector (cosine ≥ 0.999)", async () => {
      expect(samples.length).toBeGreaterThanOrEqual(20);
      const rows = await checkFiles(page, tmp, samples);
      const cosines = rows.map((r) => r.cosine ?? NaN);
      console.log(
        `real-model parity over ${rows.length} pictures (fp16 in the browser, fp32 on the server): ` +
          `min ${Math.min(...cosines).toFixed(6)}, ` +
          `mean ${(cosines.reduce((a, b) => a + b, 0) / cosines.length).toFixed(6)}\n` +
          rows.map((r) => `  ${r.name}: ${r.cosine?.toFixed(6) ?? r.error}`).join('\n')
      );
      for (const row of rows) {
        expect(row.error, row.name).toBeUndefined();
        expect(row.cosine, row.name).toBeGreaterThanOrEqual(0.999);
      }
      // The model the page downloaded on opening /check was the small copy.
      const { fileBytes, fileSha256 } = (await (await fetch(`${server.url}/api/model`)).json()) as {
        fileBytes: number;
        fileSha256: string;
      };
      expect(fileBytes).toBe((await stat(server.runtime.model.browserPath!)).size);
      expect(fileBytes).toBeLessThan((await stat(server.runtime.model.path)).size * 0.6);
      expect(fileSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(downloads).toEqual([fileBytes]);
    });
  }
);

describe.skipIf(!hasChromium)('browser encoder on WebGPU (tiny model, software adapter)', () => {
  let server: AppServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startAppServer({ model: 'tiny' }),
      launchChromium({ webgpu: true })
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs on WebGPU when asked and gives the same vectors as WASM', async () => {
    const context = await browser.newContext();
    const gpuPage = await context.newPage();
    const gpu = await openCheck(gpuPage, server.url, 'webgpu');
    expect(await gpu.getAttribute('data-backend')).toBe('webgpu');
    await saveScreenshot(gpuPage, 'check-webgpu');
    const wasmPage = await context.newPage();
    const wasm = await openCheck(wasmPage, server.url, 'wasm');
    expect(await wasm.getAttribute('data-backend')).toMatch(/^wasm/);
    // `auto` passes over SwiftShader's software adapter and says why.
    const autoPage = await context.newPage();
    const auto = await openCheck(autoPage, server.url);
    expect(await auto.getAttribute('data-backend')).toMatch(/^wasm/);
    expect(await autoPage.getByTestId('fallback-reason').textContent()).toMatch(
      /software adapter.*using WebAssembly/
    );
    for (const [i, bytes] of [
      await scene(640, 480, 41),
      await withAlpha(300, 200, 42),
      await oriented(6)
    ].entries()) {
      const onGpu = await encodeInPage(gpuPage, bytes);
      const onWasm = await encodeInPage(wasmPage, bytes);
      expect(onGpu.backend).toBe('webgpu');
      expect(Buffer.from(onGpu.input).equals(Buffer.from(onWasm.input))).toBe(true);
      expect(cosine(onGpu.vector, onWasm.vector), `image ${i}`).toBeGreaterThanOrEqual(0.9999);
    }
    await context.close();
  });
});

describe.skipIf(!hasChromium)('model cache and errors (tiny model)', () => {
  let server: AppServer;
  let browser: Browser;
  let modelCopy: string;

  beforeAll(async () => {
    // A copy of the model whose version (size + mtime) the test can change.
    modelCopy = join(tmp, 'tiny-copy.onnx');
    await copyFile((await testModel('tiny')).path, modelCopy);
    [server, browser] = await Promise.all([
      startAppServer({ model: 'tiny', env: { LOOKALIKE_MODEL_FILE: modelCopy } }),
      launchChromium()
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const cachedKeys = (page: Page) =>
    page.evaluate(async () => {
      const cache = await caches.open('lookalike-model-v1');
      return (await cache.keys()).map((r) => new URL(r.url).pathname + new URL(r.url).search);
    });

  it('downloads the model once, then starts from the cache; a new version replaces it', async () => {
    const context = await browser.newContext();
    const downloads: string[] = [];
    context.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/model/file') downloads.push(request.url());
    });

    const first = await context.newPage();
    const firstEncoder = await openCheck(first, server.url, 'wasm');
    expect(await firstEncoder.getAttribute('data-from-cache')).toBe('false');
    expect(downloads).toHaveLength(1);
    const firstKeys = await cachedKeys(first);
    const oldFile = firstKeys.find((k) => k.startsWith('/api/model/file'));
    expect(oldFile).toBeDefined();
    await first.close();

    const second = await context.newPage();
    const secondEncoder = await openCheck(second, server.url, 'wasm');
    expect(await secondEncoder.getAttribute('data-from-cache')).toBe('true');
    expect(downloads).toHaveLength(1); // no second download

    // A changed model file (new mtime → new version → new fileUrl) is downloaded and replaces
    // the old entry.
    const later = new Date(Date.now() + 60_000);
    await utimes(modelCopy, later, later);
    await second.reload();
    const thirdEncoder = second.getByTestId('encoder');
    await thirdEncoder.waitFor({ timeout: 60_000 });
    expect(await thirdEncoder.getAttribute('data-from-cache')).toBe('false');
    expect(downloads).toHaveLength(2);
    const keys = await cachedKeys(second);
    const modelFiles = keys.filter((k) => k.startsWith('/api/model/file'));
    expect(modelFiles).toHaveLength(1);
    expect(modelFiles[0]).not.toBe(oldFile);
    await context.close();
  });

  it('answers the model manifest from the saved copy when the server is unreachable', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await openCheck(page, server.url, 'wasm');
    const fetchInfo = () =>
      page.evaluate(async () => {
        const hook = (window as unknown as { lookalikeCheck: PageHook }).lookalikeCheck;
        const { info, fromCache } = await hook.fetchModelInfo();
        return { id: info.id, dimension: info.dimension, fromCache };
      });
    expect(await fetchInfo()).toEqual({ id: 'tiny', dimension: 128, fromCache: false });
    await server.stop();
    try {
      expect(await fetchInfo()).toEqual({ id: 'tiny', dimension: 128, fromCache: true });
    } finally {
      await server.start();
      await context.close();
    }
  });

  it('replaces a cached model that cannot start a session with a fresh download', async () => {
    const context = await browser.newContext();
    const downloads: string[] = [];
    context.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/model/file') downloads.push(request.url());
    });
    const first = await context.newPage();
    await openCheck(first, server.url, 'wasm');
    expect(downloads).toHaveLength(1);
    // Damage the saved copy (a half-written entry, a disk error…).
    const key = await first.evaluate(async () => {
      const cache = await caches.open('lookalike-model-v1');
      const request = (await cache.keys()).find((r) => r.url.includes('/api/model/file'))!;
      await cache.put(request, new Response(new Uint8Array(1000).fill(7)));
      return request.url;
    });
    await first.close();

    const second = await context.newPage();
    const encoder = await openCheck(second, server.url, 'wasm');
    expect(await encoder.getAttribute('data-from-cache')).toBe('false');
    expect(downloads).toHaveLength(2);
    const size = await second.evaluate(async (url) => {
      const hit = await (await caches.open('lookalike-model-v1')).match(url);
      return (await hit!.arrayBuffer()).byteLength;
    }, key);
    expect(size).toBeGreaterThan(1000);
    await context.close();
  });

  it('exposes window.lookalikeCheck only with ?debug', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/check?backend=wasm`);
    await page.getByTestId('encoder').waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => 'lookalikeCheck' in window)).toBe(false);
    await page.close();
  });

  it('skips encodes that a newer one superseded, and still answers the newest', async () => {
    const page = await browser.newPage();
    await openCheck(page, server.url, 'wasm');
    const outcomes = await page.evaluate(
      async (data) => {
        const { encoder } = (
          window as unknown as {
            lookalikeCheck: {
              encoder: {
                encode(b: Blob, r: undefined, o: { supersede: boolean }): Promise<unknown>;
              };
            };
          }
        ).lookalikeCheck;
        const blob = new Blob([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))]);
        const settled = await Promise.allSettled(
          [1, 2, 3].map(() => encoder.encode(blob, undefined, { supersede: true }))
        );
        return settled.map((r) =>
          r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code
        );
      },
      (await scene(1600, 1200, 5)).toString('base64')
    );
    // The first may already be past the point of no return; the second never runs.
    expect(['ok', 'superseded']).toContain(outcomes[0]);
    expect(outcomes.slice(1)).toEqual(['superseded', 'ok']);
    await page.close();
  });

  it('shows readable errors for a text file named .jpg and a too-thin strip', async () => {
    const page = await browser.newPage();
    await openCheck(page, server.url, 'wasm');
    await page.getByLabel('Pictures to check').setInputFiles([
      {
        name: 'notes.jpg',
        mimeType: 'image/jpeg',
        buffer: Buffer.from('these are my shopping notes, not a picture')
      },
      // 100:1, beyond core's 50:1 limit: the server refuses to index such strips too.
      { name: 'strip.png', mimeType: 'image/png', buffer: await scene(2000, 20, 3, 'png') }
    ]);
    const rows = page.locator('[data-testid="results"] tbody tr');
    await expect.poll(() => rows.nth(0).getAttribute('data-error')).toMatch(/not-an-image/);
    await expect.poll(() => rows.nth(1).getAttribute('data-error')).toMatch(/bad-geometry/);
    const notes = await rows.nth(0).textContent();
    expect(notes).toContain('notes.jpg');
    expect(notes).toMatch(/not a picture this browser can read/);
    expect(await rows.nth(1).textContent()).toMatch(/2000×20, longer than 50:1/);
    await saveScreenshot(page, 'check-errors');
    await page.close();
  });
});
