import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { poolOutput } from '#core/vector';
import { GENERATOR_VERSION, generateModelBytes } from '../../server/models/generate';
import { generateResnet50 } from '../../server/models/generate/resnet50';
import { getManifest } from '../../server/models/registry';
import { testModel } from '../helpers/models';

/** Deterministic pseudo-random inputs in roughly the range normalised pixels take. */
function pseudoRandomInput(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 4294967296) * 4 - 2;
  }
  return out;
}

/**
 * ResNet-50 parameters with batch norm folded into the convolutions, derived from the published
 * torchvision count (25,557,032 with the 1000-class classifier) rather than from the generator:
 * drop the classifier (2048·1000 weights + 1000 biases), and each batch norm's two trainable
 * parameters per channel (γ, β) become one conv bias per channel.
 */
function foldedResnet50Parameters(): number {
  const published = 25_557_032;
  const classifier = 2048 * 1000 + 1000;
  let bnChannels = 64; // stem
  for (const [blocks, width] of [
    [3, 64],
    [4, 128],
    [6, 256],
    [3, 512]
  ] as const) {
    // Each bottleneck: width, width, 4·width; plus the first block's projection shortcut.
    bnChannels += blocks * (width + width + 4 * width) + 4 * width;
  }
  return published - classifier - 2 * bnChannels + bnChannels;
}

describe('generateModelBytes', () => {
  it('is deterministic: the tiny model is byte-identical on every call', () => {
    const manifest = getManifest('tiny');
    const a = generateModelBytes(manifest);
    const b = generateModelBytes(manifest);
    expect(a.bytes.length).toBeGreaterThan(0);
    expect(b.bytes.length).toBe(a.bytes.length);
    expect(Buffer.compare(Buffer.from(a.bytes), Buffer.from(b.bytes))).toBe(0);
    expect(b.parameters).toBe(a.parameters);
    expect(b.macs).toBe(a.macs);
  });

  it('keeps the bytes of generator version 1 (a change must bump GENERATOR_VERSION)', () => {
    // Cached files are named by GENERATOR_VERSION, so changed bytes under the same version would
    // leave stale models in every cache; the graph builder is shared with the model importer.
    const hash = (id: string) =>
      createHash('sha256')
        .update(generateModelBytes(getManifest(id)).bytes)
        .digest('hex');
    expect(GENERATOR_VERSION).toBe(1);
    expect(hash('tiny')).toBe('6819027f51c35ccb8cd36468857439ca81d7136cd526d5b7127922c6a6ff15bb');
    expect(hash('synthetic-resnet50')).toBe(
      '84eeb6ec4b8531813552395014f297a927155f8e469831596c30aa9adbdf3db6'
    );
  });

  it("tiny's parameter count matches its three convolutions", () => {
    const { parameters, bytes } = generateModelBytes(getManifest('tiny'));
    // 3→16 3×3, 16→16 3×3, 16→8 3×3 (128 = 8 channels × 4×4 grid), each with a bias.
    const expected = 16 * 3 * 9 + 16 + (16 * 16 * 9 + 16) + (8 * 16 * 9 + 8);
    expect(parameters).toBe(expected);
    expect(bytes.length).toBeGreaterThan(expected * 4);
  });

  it('refuses a model that is not generated', () => {
    expect(() => generateModelBytes(getManifest('resnet50'))).toThrow(/not a generated model/);
  });

  it('refuses non-square or NHWC inputs', () => {
    const tiny = getManifest('tiny');
    expect(() =>
      generateModelBytes({ ...tiny, input: { ...tiny.input, width: 64, height: 32 } })
    ).toThrow(/square NCHW/);
    expect(() => generateModelBytes({ ...tiny, input: { ...tiny.input, layout: 'NHWC' } })).toThrow(
      /square NCHW/
    );
  });
});

describe('the tiny model in onnxruntime', () => {
  it('has the manifest’s names and maps [2, 3, 64, 64] to [2, 128] distinct finite vectors', async () => {
    const manifest = getManifest('tiny');
    const session = await ort.InferenceSession.create(generateModelBytes(manifest).bytes);
    try {
      expect(session.inputNames).toEqual([manifest.input.name]);
      expect(session.outputNames).toEqual([manifest.output.name]);

      const size = manifest.input.width;
      expect(size).toBe(64);
      const plane = 3 * size * size;
      const first = pseudoRandomInput(plane, 1);
      const second = pseudoRandomInput(plane, 2);
      const batch = new Float32Array(2 * plane);
      batch.set(first, 0);
      batch.set(second, plane);
      const results = await session.run({
        [manifest.input.name!]: new ort.Tensor('float32', batch, [2, 3, size, size])
      });
      const output = results[manifest.output.name!]!;
      expect(output.dims).toEqual([2, manifest.dimension]);
      expect(manifest.dimension).toBe(128);
      const values = output.data as Float32Array;
      expect(values.length).toBe(2 * 128);
      expect(values.every((v) => Number.isFinite(v))).toBe(true);

      const a = values.subarray(0, 128);
      const b = values.subarray(128);
      const maxDiff = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      expect(maxDiff).toBeGreaterThan(1e-3);
      // Not a constant output either.
      expect(Math.max(...a) - Math.min(...a)).toBeGreaterThan(1e-3);

      // The first image alone gives the same vector as in the batch.
      const single = await session.run({
        [manifest.input.name!]: new ort.Tensor('float32', first, [1, 3, size, size])
      });
      const alone = single[manifest.output.name!]!.data as Float32Array;
      alone.forEach((v, i) => expect(v).toBeCloseTo(a[i]!, 4));
    } finally {
      await session.release();
    }
  });
});

describe('synthetic ResNet-50', () => {
  it('the cached file is the size of ResNet-50 without its classifier (~94 MB)', async () => {
    const { path } = await testModel('synthetic-resnet50');
    const { size } = await stat(path);
    expect(Math.abs(size - 94e6) / 94e6).toBeLessThan(0.01);
  });

  it('runs in onnxruntime: [1, 3, 224, 224] → [1, 2048, 1, 1] finite values', async () => {
    const { manifest, path } = await testModel('synthetic-resnet50');
    const session = await ort.InferenceSession.create(path);
    try {
      expect(session.inputNames).toEqual([manifest.input.name]);
      expect(session.outputNames).toEqual([manifest.output.name]);
      expect([manifest.input.width, manifest.input.height]).toEqual([224, 224]);

      const input = pseudoRandomInput(3 * 224 * 224, 3);
      const results = await session.run({
        [manifest.input.name!]: new ort.Tensor('float32', input, [1, 3, 224, 224])
      });
      const output = results[manifest.output.name!]!;
      expect(output.dims).toEqual([1, 2048, 1, 1]);
      const values = output.data as Float32Array;
      expect(values.length).toBe(2048);
      expect(values.every((v) => Number.isFinite(v))).toBe(true);
      expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(0);

      // The manifest's pooling ('none') accepts this shape as one 2048-d vector.
      const [vector] = poolOutput(values, output.dims, manifest.output.pooling);
      expect(vector!.length).toBe(manifest.dimension);
    } finally {
      await session.release();
    }
  });

  it('has the parameters and cost of the real ResNet-50 (4.1 GMAC at 224×224)', () => {
    const { parameters, macs, bytes } = generateResnet50({
      seed: 50,
      inputName: 'pixel_values',
      outputName: 'pooler_output',
      inputSize: 224
    });
    expect(parameters).toBeGreaterThan(23.4e6);
    expect(parameters).toBeLessThan(23.6e6);
    expect(parameters).toBe(foldedResnet50Parameters());
    expect(Math.abs(macs - 4.09e9) / 4.09e9).toBeLessThan(0.02);
    // float32 weights dominate the file.
    expect(bytes.length).toBeGreaterThanOrEqual(parameters * 4);
    expect(bytes.length).toBeLessThan(parameters * 4 * 1.01);
  });
});
