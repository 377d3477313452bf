import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInputBatch } from '#core/preprocess';
import { cosine } from '#core/vector';
import type { ModelManifest } from '#core/model-manifest';
import { createOnnxNodeBackend } from '../../server/embedding/onnx-node-backend';
import {
  float16Copy,
  Float16CopyError,
  MIN_BROWSER_COPY_COSINE,
  writeBrowserCopy
} from '../../server/models/float16-copy';
import {
  ATTR,
  decodeModel,
  encodeModel,
  FLOAT,
  FLOAT16,
  toFloat16Values,
  type ModelSpec,
  type TensorSpec
} from '../../server/models/generate/onnx-proto';
import { cleanupCliTempDirs, cliTempDir, runCli } from '../helpers/cli';
import { scenePixels } from '../helpers/images';
import { testModel } from '../helpers/models';
import { realModel } from '../helpers/real-model';

/**
 * The float16 browser copy of models Lookalike did not build (the downloaded ResNet-50), made at
 * the protobuf wire level. The synthetic ResNet-50 stands in for the download: same graph shape
 * and size, and it goes through the generic path, not the builder's withFloat16Weights.
 */

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-fp16-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  await cleanupCliTempDirs();
});

/** A message's fields as raw bytes (tag included), read independently of the code under test. */
interface Field {
  field: number;
  raw: Uint8Array;
  value: Uint8Array;
}
function fields(bytes: Uint8Array): Field[] {
  const reader = protobuf.Reader.create(bytes);
  const out: Field[] = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    let valueStart = reader.pos;
    if ((tag & 7) === 2) {
      const length = reader.uint32();
      valueStart = reader.pos;
      reader.skip(length);
    } else reader.skipType(tag & 7);
    out.push({
      field: tag >>> 3,
      raw: bytes.subarray(start, reader.pos),
      value: bytes.subarray(valueStart, reader.pos)
    });
  }
  return out;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
/** Short enough for a readable diff of 300 fields of up to 9 MB. */
const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const floats = (raw: Uint8Array) => new Float32Array(Uint8Array.from(raw).buffer);
const halves = (raw: Uint8Array) => new Uint16Array(Uint8Array.from(raw).buffer);

describe('float16Copy of the synthetic ResNet-50 (stand-in for the downloaded file)', () => {
  let manifest: ModelManifest;
  let path: string;
  let original: Buffer;
  let copy: ReturnType<typeof float16Copy>;
  let copyPath: string;

  beforeAll(async () => {
    ({ manifest, path } = await testModel('synthetic-resnet50'));
    original = await readFile(path);
    copy = float16Copy(original);
    copyPath = join(await tempDir(), 'synthetic-resnet50.fp16.onnx');
    await writeFile(copyPath, copy.bytes);
  });

  it('is under 55 % of the size, with every large weight converted and none clamped', () => {
    const ratio = copy.bytes.length / original.length;
    console.info(
      `synthetic ResNet-50: fp32 ${original.length} B, fp16 copy ${copy.bytes.length} B ` +
        `(${(ratio * 100).toFixed(1)} %); ${JSON.stringify(copy.stats)}`
    );
    expect(ratio).toBeLessThan(0.55);
    expect(copy.stats.tensors).toBeGreaterThanOrEqual(53); // every conv weight of ResNet-50
    expect(copy.stats.overflowed).toBe(0);
  });

  it('loads in onnxruntime-node and gives the same vectors on 6 pictures', async () => {
    const [full, half] = await Promise.all([
      createOnnxNodeBackend(path, manifest, { threads: 2 }),
      createOnnxNodeBackend(copyPath, manifest, { threads: 2 })
    ]);
    try {
      const cosines: number[] = [];
      for (let seed = 1; seed <= 6; seed++) {
        const { data, dims } = buildInputBatch([scenePixels(224, 224, seed)], manifest);
        const a = await full.run(data, dims);
        const b = await half.run(data, dims);
        expect(b.dims).toEqual(a.dims);
        cosines.push(cosine(a.data, b.data));
      }
      console.info(`synthetic ResNet-50 fp16 vs fp32 cosines: ${cosines.map((c) => c.toFixed(7))}`);
      expect(Math.min(...cosines)).toBeGreaterThanOrEqual(MIN_BROWSER_COPY_COSINE);
    } finally {
      await Promise.all([full.close(), half.close()]);
    }
  });

  it('keeps every byte but the converted initializers, and casts them back first', () => {
    const [a, b] = [fields(original), fields(copy.bytes)];
    // Outside the graph, the model is byte for byte the same (opsets, metadata, producer…).
    const notGraph = (f: Field[]) => f.filter((x) => x.field !== 7).map((x) => hex(x.raw));
    expect(notGraph(b)).toEqual(notGraph(a));

    const graphA = fields(a.find((f) => f.field === 7)!.value);
    const graphB = fields(b.find((f) => f.field === 7)!.value);
    const casts = graphB.slice(0, copy.stats.tensors);
    const rest = graphB.slice(copy.stats.tensors);
    // Nodes, inputs, outputs, names and unconverted initializers: same bytes, same order.
    const converted = new Set<string>();
    const halfNames = new Set<string>();
    for (const cast of casts) {
      expect(cast.field).toBe(1);
      const node = decodeModel(wrapNode(cast.raw)).graph.node[0]!;
      converted.add(node.output[0]!);
      halfNames.add(node.input[0]!);
    }
    const without = (names: Set<string>) => (f: Field) =>
      f.field !== 5 || !names.has(tensorName(f.value));
    expect(rest.filter(without(halfNames)).map((f) => digest(f.raw))).toEqual(
      graphA.filter(without(converted)).map((f) => digest(f.raw))
    );

    const [modelA, modelB] = [decodeModel(original), decodeModel(copy.bytes)];
    expect(modelB.opsetImport).toEqual(modelA.opsetImport);
    expect(modelB.metadataProps).toEqual(modelA.metadataProps);
    expect(modelB.graph.input).toEqual(modelA.graph.input);
    expect(modelB.graph.output).toEqual(modelA.graph.output);
    expect(modelB.graph.node.slice(casts.length)).toEqual(modelA.graph.node);
    for (const node of modelB.graph.node.slice(0, casts.length)) {
      expect(node.opType).toBe('Cast');
      expect(node.attribute).toMatchObject([{ name: 'to', i: FLOAT }]);
    }

    // Each converted weight: FLOAT16 under the Cast's input name, same dims, each value the
    // nearest float16 (within half a unit in the last place).
    const byName = new Map(modelB.graph.initializer.map((t) => [t.name, t]));
    const castInput = new Map(
      modelB.graph.node.slice(0, casts.length).map((n) => [n.output[0]!, n.input[0]!])
    );
    expect(converted.size).toBe(copy.stats.tensors);
    for (const tensor of modelA.graph.initializer.filter((t) => converted.has(t.name))) {
      const half = byName.get(castInput.get(tensor.name)!)!;
      expect(half.dataType).toBe(FLOAT16);
      expect(half.dims).toEqual(tensor.dims);
      const [values, bits] = [floats(tensor.rawData!), halves(half.rawData!)];
      expect(bits.length).toBe(values.length);
      for (let i = 0; i < values.length; i++) {
        const error = Math.abs(halfToFloat(bits[i]!) - values[i]!);
        if (!(error <= Math.max(Math.abs(values[i]!) * 2 ** -11, 2 ** -25))) {
          throw new Error(`${tensor.name}[${i}]: ${values[i]} became ${halfToFloat(bits[i]!)}`);
        }
      }
    }
  });
});

/** A NodeProto's bytes (graph field 1) inside a model, to decode it with decodeModel. */
function wrapNode(nodeField: Uint8Array): Uint8Array {
  const graph = protobuf.Writer.create()
    .uint32((7 << 3) | 2)
    .bytes(nodeField)
    .finish();
  return graph;
}

function tensorName(tensor: Uint8Array): string {
  const name = fields(tensor).findLast((f) => f.field === 8);
  return name ? new TextDecoder().decode(name.value) : '';
}

/** Y = X · W + B for X [1, 8], W [8, 256] stored as `weights`, so ORT can run it. */
function matMulModel(weights: Partial<TensorSpec>): ModelSpec {
  const bias = new Float32Array(256).map((_, i) => i / 256);
  const info = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } }
  });
  return {
    irVersion: 8,
    producerName: 'test',
    producerVersion: '1',
    docString: '',
    opsetImport: [{ domain: '', version: 13 }],
    metadataProps: [{ key: 'kept', value: 'yes' }],
    graph: {
      name: 'matmul',
      node: [
        { input: ['x', 'w'], output: ['xw'], name: 'mm', opType: 'MatMul', attribute: [] },
        { input: ['xw', 'b'], output: ['y'], name: 'add', opType: 'Add', attribute: [] }
      ],
      initializer: [
        { name: 'w', dims: [8, 256], dataType: FLOAT, ...weights },
        { name: 'b', dims: [256], dataType: FLOAT, rawData: new Uint8Array(bias.buffer) }
      ],
      input: [info('x', [1, 8])],
      output: [info('y', [1, 256])]
    }
  };
}

const weightValues = Array.from({ length: 8 * 256 }, (_, i) => Math.sin(i * 0.37) * 0.5);

async function runMatMul(bytes: Uint8Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const x = new ort.Tensor('float32', Float32Array.from([1, -2, 3, 0.5, -1, 2, 0.25, 4]), [1, 8]);
    return (await session.run({ x })).y!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('float16Copy of other encodings', () => {
  it('converts a weight stored as float_data and keeps fields it does not know', async () => {
    // A top-level field no ONNX version defines, which must come through untouched.
    const unknown = protobuf.Writer.create()
      .uint32((99 << 3) | 2)
      .string('future field')
      .finish();
    const model = Buffer.concat([
      encodeModel(matMulModel({ floatData: weightValues, docString: 'weights as float_data' })),
      unknown
    ]);
    const { bytes, stats } = float16Copy(model);
    expect(stats).toMatchObject({ tensors: 1, values: 2048, keptFloat32: 1 });
    expect(hex(bytes.subarray(bytes.length - unknown.length))).toBe(hex(unknown));

    const decoded = decodeModel(bytes);
    const half = decoded.graph.initializer.find((t) => t.dataType === FLOAT16)!;
    expect(half).toMatchObject({ dims: [8, 256], docString: 'weights as float_data' });
    expect(half.floatData).toEqual([]);
    expect(half.rawData!.length).toBe(2048 * 2);
    expect(decoded.graph.node[0]).toMatchObject({
      opType: 'Cast',
      input: [half.name],
      output: ['w']
    });
    expect(decoded.metadataProps).toEqual([{ key: 'kept', value: 'yes' }]);

    const [a, b] = [await runMatMul(model), await runMatMul(bytes)];
    expect(cosine(a, b)).toBeGreaterThan(0.99999);
  });

  it('leaves weights that are also graph inputs as they are, and says why nothing shrank', () => {
    const spec = matMulModel({ floatData: weightValues });
    const w = { ...spec.graph.input[0]!, name: 'w' };
    const model = encodeModel({
      ...spec,
      graph: { ...spec.graph, input: [...spec.graph.input, w] }
    });
    expect(() => float16Copy(model)).toThrow(/no float32 weights .*\(1 are also graph inputs/);
  });

  it('refuses a model whose weights live in an external data file', () => {
    const model = encodeModel(
      matMulModel({
        dataLocation: 1,
        externalData: [
          { key: 'location', value: 'weights.bin' },
          { key: 'length', value: '8192' }
        ]
      })
    );
    expect(() => float16Copy(model)).toThrow(Float16CopyError);
    expect(() => float16Copy(model)).toThrow(/external data files \(w\).*self-contained/);
  });

  it('clamps weights beyond ±65504, counts what float16 cannot hold, and weighs it', () => {
    const { bits, overflowed, underflowed, magnitude, lost } = toFloat16Values(
      Float32Array.from([70000, -1e6, 65519, 1e-9, 0, Infinity, 1])
    );
    expect([...bits]).toEqual([0x7bff, 0xfbff, 0x7bff, 0, 0, 0x7c00, 0x3c00]);
    expect({ overflowed, underflowed }).toEqual({ overflowed: 2, underflowed: 1 });
    expect(magnitude).toBeCloseTo(70000 + 1e6 + 65519 + 1, 0);
    expect(lost).toBeCloseTo(70000 - 65504 + (1e6 - 65504), 0);
  });

  it('refuses a model when clamped or flushed weights would change a tensor', () => {
    const huge = weightValues.map((v, i) => (i % 100 === 0 ? 1e6 : v));
    expect(() => float16Copy(encodeModel(matMulModel({ floatData: huge })))).toThrow(
      /cannot hold weight w: 21 of its 2048 values lie beyond ±65504 and 0 are too small/
    );
    const tiny = weightValues.map((v) => v * 1e-7);
    expect(() => float16Copy(encodeModel(matMulModel({ floatData: tiny })))).toThrow(
      /cannot hold weight w: 0 of its 2048 values lie beyond ±65504 and \d+ are too small/
    );
  });

  it('keeps a model whose few flushed weights are negligible beside the rest', () => {
    // Like real batch-norm-folded layers: a few weights of 1e-9 among weights near 0.5.
    const someTiny = weightValues.map((v, i) => (i % 50 === 0 ? 1e-9 : v));
    const { stats } = float16Copy(encodeModel(matMulModel({ floatData: someTiny })));
    expect(stats).toMatchObject({ tensors: 1, underflowed: 41, overflowed: 0 });
  });
});

describe('writeBrowserCopy (after `model fetch` verifies a download)', () => {
  let manifest: ModelManifest;
  let path: string;
  beforeAll(async () => ({ manifest, path } = await testModel('synthetic-resnet50')));

  it('writes the checked copy beside the model, atomically', async () => {
    const dir = await tempDir();
    const lines: string[] = [];
    const result = await writeBrowserCopy({
      manifest,
      modelPath: path,
      browserPath: join(dir, 'resnet50.fp16.onnx'),
      log: (line) => lines.push(line)
    });
    if (!result.kept) throw new Error(result.reason);
    console.info(
      `writeBrowserCopy: ${result.modelBytes} → ${result.bytes} B, cosines ${result.cosines.map((c) => c.toFixed(7))}`
    );
    expect(result.bytes / result.modelBytes).toBeLessThan(0.55);
    expect(result.cosines.length).toBeGreaterThanOrEqual(5);
    expect(Math.min(...result.cosines)).toBeGreaterThanOrEqual(MIN_BROWSER_COPY_COSINE);
    expect((await stat(result.path)).size).toBe(result.bytes);
    expect(await readdir(dir)).toEqual(['resnet50.fp16.onnx']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Saved .*resnet50\.fp16\.onnx \(\d+ bytes, float16 weights/);
  });

  it('keeps the copy of a model with real trained weights (EfficientNet-Lite0, generic path)', async () => {
    // Trained, batch-norm-folded weights include values float16 flushes to zero (0.13 % here).
    const real = await realModel();
    const result = await writeBrowserCopy({
      manifest: real.manifest,
      modelPath: real.path,
      browserPath: join(await tempDir(), 'efficientnet-lite0.fp16.onnx')
    });
    if (!result.kept) throw new Error(result.reason);
    console.info(
      `EfficientNet-Lite0 generic copy: ${result.modelBytes} → ${result.bytes} B, ` +
        `${result.stats.underflowed} flushed, cosines ${result.cosines.map((c) => c.toFixed(7))}`
    );
    expect(result.stats.underflowed).toBeGreaterThan(0);
    expect(result.bytes / result.modelBytes).toBeLessThan(0.55);
    expect(Math.min(...result.cosines)).toBeGreaterThanOrEqual(MIN_BROWSER_COPY_COSINE);
  });

  /**
   * Y = mean(X) · A − mean(X) · B with A and B equal to 1 + 1e-4-sized differences: float32 keeps
   * the differences, float16 rounds both to 1 and the output to nothing.
   */
  function cancellingModel(): Uint8Array {
    const wiggle = (seed: number) =>
      new Float32Array(3 * 512).map((_, i) => 1 + Math.sin(i * seed) * 1e-4);
    const tensor = (name: string, values: Float32Array): TensorSpec => ({
      name,
      dims: [3, 512],
      dataType: FLOAT,
      rawData: new Uint8Array(values.buffer)
    });
    const node = (opType: string, input: string[], output: string) => ({
      input,
      output: [output],
      name: output,
      opType,
      attribute: opType === 'Flatten' ? [{ name: 'axis', type: ATTR.INT, i: 1 } as const] : []
    });
    const shape = (dims: (number | string)[]) => ({
      dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }))
    });
    return encodeModel({
      irVersion: 8,
      producerName: 'test',
      producerVersion: '1',
      docString: '',
      opsetImport: [{ domain: '', version: 13 }],
      metadataProps: [],
      graph: {
        name: 'cancel',
        node: [
          node('GlobalAveragePool', ['x'], 'pooled'),
          node('Flatten', ['pooled'], 'flat'),
          node('MatMul', ['flat', 'a'], 'xa'),
          node('MatMul', ['flat', 'b'], 'xb'),
          node('Sub', ['xa', 'xb'], 'y')
        ],
        initializer: [tensor('a', wiggle(1.3)), tensor('b', wiggle(2.9))],
        input: [
          { name: 'x', type: { tensorType: { elemType: FLOAT, shape: shape(['n', 3, 224, 224]) } } }
        ],
        output: [{ name: 'y', type: { tensorType: { elemType: FLOAT, shape: shape(['n', 512]) } } }]
      }
    });
  }

  it('deletes the copy (and any old one) when its vectors differ, and says so in one line', async () => {
    const dir = await tempDir();
    const modelPath = join(dir, 'cancel.onnx');
    const browserPath = join(dir, 'cancel.fp16.onnx');
    await writeFile(modelPath, cancellingModel());
    await writeFile(browserPath, 'an old copy');
    const lines: string[] = [];
    const result = await writeBrowserCopy({
      manifest: {
        ...manifest,
        id: 'cancel',
        input: { ...manifest.input, name: 'x' },
        output: { ...manifest.output, name: 'y' }
      },
      modelPath,
      browserPath,
      log: (line) => lines.push(line)
    });
    expect(result.kept).toBe(false);
    expect(Math.min(...(result.cosines ?? [1]))).toBeLessThan(MIN_BROWSER_COPY_COSINE);
    expect(await readdir(dir)).toEqual(['cancel.onnx']);
    expect(lines).toEqual([
      expect.stringMatching(
        /^No float16 browser copy of cancel: .*lowest cosine .* browsers get the float32 model$/
      )
    ]);
  });

  it('keeps no copy of a model with external data', async () => {
    const dir = await tempDir();
    const modelPath = join(dir, 'ext.onnx');
    await writeFile(
      modelPath,
      encodeModel(
        matMulModel({ dataLocation: 1, externalData: [{ key: 'location', value: 'w.bin' }] })
      )
    );
    const lines: string[] = [];
    const result = await writeBrowserCopy({
      manifest,
      modelPath,
      browserPath: join(dir, 'ext.fp16.onnx'),
      log: (line) => lines.push(line)
    });
    expect(result).toMatchObject({ kept: false, reason: expect.stringMatching(/external data/) });
    expect(await readdir(dir)).toEqual(['ext.onnx']);
    expect(lines).toHaveLength(1);
  });
});

describe('lookalike model browser-copy', () => {
  it('remakes resnet50.fp16.onnx for the cached resnet50.onnx', async () => {
    const dataDir = await cliTempDir();
    const { path } = await testModel('synthetic-resnet50');
    await mkdir(join(dataDir, 'models'), { recursive: true });
    // The synthetic file stands in for the download (the real one is not reachable in tests).
    await symlink(path, join(dataDir, 'models', 'resnet50.onnx'));
    const r = await runCli(['model', 'browser-copy', 'resnet50'], {
      dataDir,
      env: { LOOKALIKE_MODEL_CACHE: undefined },
      timeoutMs: 120_000
    });
    expect(r.stderr).toMatch(/Saved .*resnet50\.fp16\.onnx/);
    expect(r.code).toBe(0);
    const size = (await stat(join(dataDir, 'models', 'resnet50.fp16.onnx'))).size;
    expect(size / (await stat(path)).size).toBeLessThan(0.55);
  }, 130_000);

  it('explains what to do when the model is not in the cache', async () => {
    const r = await runCli(['model', 'browser-copy', 'resnet50'], {
      env: { LOOKALIKE_MODEL_CACHE: undefined }
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('npx lookalike model fetch resnet50');
  });
});
