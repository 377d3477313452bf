import { stat } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { cosine } from '#core/vector';
import { Embedder } from '../server/embedding/embedder';
import { createOnnxNodeBackend } from '../server/embedding/onnx-node-backend';
import { SharpImageDecoder } from '../server/embedding/sharp-decoder';
import { ensureGeneratedModel } from '../server/models/generate';
import { cachedModelPath, getManifest } from '../server/models/registry';
import {
  hasChromium,
  launchChromium,
  startAppServer,
  type AppServer
} from '../tests/helpers/browser';
import { realModel } from '../tests/helpers/real-model';
import { ensureWebBuild } from '../tests/helpers/web-build';
import type { ModelManifest } from '#core/model-manifest';
import type { Row } from './embedding';
import { photoJpeg } from './photos';

const IMAGES = 8;

interface PageTiming {
  ms: number;
  decodeMs: number;
  inferMs: number;
  vector: number[];
}

/** Opens /check on a backend and returns what its encoder reports once loaded. */
async function openCheck(page: Page, url: string, backend: 'wasm' | 'webgpu') {
  // ?debug: the page exposes its encoder as window.lookalikeCheck only when asked.
  await page.goto(`${url}/check?debug&backend=${backend}`);
  await page
    .locator('[data-testid="encoder"], [data-testid="load-error"]')
    .first()
    .waitFor({ timeout: 300_000 });
  const encoder = page.getByTestId('encoder');
  if (!(await encoder.count())) {
    throw new Error(`encoder failed: ${await page.getByTestId('load-error').textContent()}`);
  }
  return {
    backend: (await encoder.getAttribute('data-backend')) ?? '',
    loadMs: Number(await encoder.getAttribute('data-load-ms')),
    fromCache: (await encoder.getAttribute('data-from-cache')) === 'true'
  };
}

/** One image through the page's encoder (window.lookalikeCheck, set by /check). */
function encodeInPage(page: Page, bytes: Buffer): Promise<PageTiming> {
  return page.evaluate(async (data) => {
    const hook = (
      window as unknown as {
        lookalikeCheck: {
          encoder: {
            encode(blob: Blob): Promise<{
              ms: number;
              decodeMs: number;
              inferMs: number;
              vector: Float32Array;
            }>;
          };
        };
      }
    ).lookalikeCheck;
    const blob = new Blob([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))], {
      type: 'image/jpeg'
    });
    const r = await hook.encoder.encode(blob);
    return { ms: r.ms, decodeMs: r.decodeMs, inferMs: r.inferMs, vector: Array.from(r.vector) };
  }, bytes.toString('base64'));
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Per-image times in the page (after one warm-up) and in onnxruntime-node for the same images. */
async function compare(
  page: Page,
  label: string,
  model: { manifest: ModelManifest; path: string },
  images: Buffer[],
  threads: number
): Promise<Row[]> {
  await encodeInPage(page, images[0]!);
  const inPage: PageTiming[] = [];
  for (const image of images) inPage.push(await encodeInPage(page, image));

  const { manifest, path } = model;
  const decoder = new SharpImageDecoder({ maxPixels: 100_000_000, maxFileBytes: 1e9 });
  const backend = await createOnnxNodeBackend(path, manifest, { threads });
  const embedder = new Embedder(manifest, decoder, backend, 1);
  await embedder.embedOne(images[0]!);
  const nodeMs: number[] = [];
  const cosines: number[] = [];
  for (const [i, image] of images.entries()) {
    const started = performance.now();
    const vector = await embedder.embedOne(image);
    nodeMs.push(performance.now() - started);
    cosines.push(cosine(vector, inPage[i]!.vector));
  }
  await embedder.close();

  const browserMs = mean(inPage.map((t) => t.ms));
  const node = mean(nodeMs);
  return [
    {
      name: `${label}: browser encode, 1024×768 JPEG`,
      value: browserMs,
      unit: 'ms/img',
      note:
        `decode+resize ${mean(inPage.map((t) => t.decodeMs)).toFixed(1)} ms, ` +
        `model ${mean(inPage.map((t) => t.inferMs)).toFixed(1)} ms; ` +
        `${(browserMs / node).toFixed(1)}× onnxruntime-node; ` +
        `cosine vs node min ${Math.min(...cosines).toFixed(6)}`
    },
    {
      name: `${label}: onnxruntime-node encode, same images`,
      value: node,
      unit: 'ms/img',
      note: `decode + model, ${threads} thread${threads === 1 ? '' : 's'}`
    }
  ];
}

/** A generated model from the benchmark's cache. */
async function generated(cacheDir: string, id: 'synthetic-resnet50' | 'tiny') {
  const manifest = getManifest(id);
  return {
    manifest,
    path: await ensureGeneratedModel(manifest, cachedModelPath(cacheDir, manifest))
  };
}

/** First-visit (download + session) and cached load of the page's model. */
async function loadTimes(
  browser: Browser,
  server: AppServer,
  label: string
): Promise<{ rows: Row[]; page: Page; backend: string }> {
  const context = await browser.newContext();
  const file = server.runtime.model.browserPath ?? server.runtime.model.path;
  const megabytes = ((await stat(file)).size / 1e6).toFixed(1);
  const first = await openCheck(await context.newPage(), server.url, 'wasm');
  const page = await context.newPage();
  const cached = await openCheck(page, server.url, 'wasm');
  const rows: Row[] = [
    {
      name: `${label} model load, first visit`,
      value: first.loadMs,
      unit: 'ms',
      note: `${megabytes} MB download from localhost + ${first.backend} session`
    },
    {
      name: `${label} model load, cached`,
      value: cached.loadMs,
      unit: 'ms',
      note: cached.fromCache ? 'Cache API + session' : 'NOT from the cache'
    }
  ];
  return { rows, page, backend: cached.backend };
}

/**
 * In-browser encoding in headless Chromium (production build, real server): per-image time on
 * WASM for the synthetic ResNet-50 and, where the browser exposes an adapter, on WebGPU for the
 * tiny model (SwiftShader in CI, a software rasteriser: only the code path, not GPU speed),
 * each against onnxruntime-node on the same images in the same run; and the model's first
 * (download + session) and cached load times.
 */
export async function benchBrowser(cacheDir: string, threads: number): Promise<Row[]> {
  if (!hasChromium) {
    console.log('browser: skipped, no Chromium at /usr/bin/chromium (LOOKALIKE_CHROMIUM)');
    return [];
  }
  await ensureWebBuild();
  const images = await Promise.all(Array.from({ length: IMAGES }, (_, n) => photoJpeg(100 + n)));
  const rows: Row[] = [];
  let server: AppServer | undefined;
  let browser: Browser | undefined;
  try {
    // The real model: the page downloads its float16 copy; the server encodes in float32.
    const real = await realModel();
    server = await startAppServer({ model: 'efficientnet-lite0' });
    browser = await launchChromium();
    const effnet = await loadTimes(browser, server, 'EfficientNet-Lite0 (float16 copy)');
    rows.push(...effnet.rows);
    rows.push(
      ...(await compare(effnet.page, `EfficientNet-Lite0 ${effnet.backend}`, real, images, threads))
    );
    await browser.close();
    await server.close();

    server = await startAppServer({ model: 'synthetic-resnet50' });
    browser = await launchChromium();
    const resnet = await loadTimes(browser, server, 'ResNet-50');
    rows.push(...resnet.rows);
    rows.push(
      ...(await compare(
        resnet.page,
        `ResNet-50 ${resnet.backend}`,
        await generated(cacheDir, 'synthetic-resnet50'),
        images,
        threads
      ))
    );
    await browser.close();
    await server.close();

    server = await startAppServer({ model: 'tiny' });
    browser = await launchChromium({ webgpu: true });
    const gpuPage = await browser.newPage();
    const gpu = await openCheck(gpuPage, server.url, 'webgpu');
    if (gpu.backend === 'webgpu') {
      rows.push(
        ...(await compare(
          gpuPage,
          'tiny webgpu (SwiftShader, software)',
          await generated(cacheDir, 'tiny'),
          images,
          threads
        ))
      );
      const wasmPage = await browser.newPage();
      const wasm = await openCheck(wasmPage, server.url, 'wasm');
      rows.push(
        ...(await compare(
          wasmPage,
          `tiny ${wasm.backend}`,
          await generated(cacheDir, 'tiny'),
          images,
          threads
        ))
      );
    } else {
      console.log(`browser: no WebGPU adapter here (${gpu.backend}); WebGPU rows left out`);
    }
  } finally {
    await browser?.close();
    await server?.close();
  }
  return rows;
}
