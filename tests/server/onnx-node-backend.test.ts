import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInputBatch } from '#core/preprocess';
import type { InferenceBackend } from '../../server/embedding/inference-backend';
import { createOnnxNodeBackend } from '../../server/embedding/onnx-node-backend';
import { patternPixels } from '../helpers/images';
import { testModel } from '../helpers/models';

describe('onnxruntime-node backend (on its own thread)', () => {
  let backend: InferenceBackend;
  let manifest: Awaited<ReturnType<typeof testModel>>['manifest'];
  const batch = () =>
    buildInputBatch(
      [1, 2, 3, 4].map((seed) => patternPixels(224, 224, seed)),
      manifest
    );
  beforeAll(async () => {
    const model = await testModel('synthetic-resnet50');
    manifest = model.manifest;
    backend = await createOnnxNodeBackend(model.path, manifest, { threads: 2 });
  });
  afterAll(() => backend.close());

  it('leaves the event loop free while a batch runs', async () => {
    const { data, dims } = batch();
    await backend.run(data, dims); // warm-up: the first run allocates
    // A ResNet-50 batch of 4 takes tens of milliseconds at least; run on the calling thread it
    // blocked every timer until it returned.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    await backend.run(data, dims);
    clearInterval(timer);
    expect(ticks).toBeGreaterThanOrEqual(3);
  });

  it('copies the input unless told to take it, with the same result either way', async () => {
    const kept = batch();
    const first = await backend.run(kept.data, kept.dims);
    expect(kept.data.length).toBe(4 * 3 * 224 * 224); // still the caller's
    const again = await backend.run(kept.data, kept.dims);
    expect(again.data).toEqual(first.data);

    const given = batch();
    const moved = await backend.run(given.data, given.dims, { transfer: true });
    expect(given.data.length).toBe(0); // moved to the inference thread, not copied
    expect(moved.dims).toEqual(first.dims);
    expect(moved.data).toEqual(first.data);
  });

  it('reports a bad input as a rejected run and keeps working', async () => {
    const { data, dims } = batch();
    await expect(backend.run(data.subarray(0, 10), dims)).rejects.toThrow();
    const ok = await backend.run(data, dims);
    expect(ok.dims[0]).toBe(4);
  });

  it('refuses to run once closed', async () => {
    const model = await testModel('tiny');
    const small = await createOnnxNodeBackend(model.path, model.manifest, { threads: 1 });
    const { width, height } = model.manifest.input;
    const input = buildInputBatch([patternPixels(width, height, 1)], model.manifest);
    expect((await small.run(input.data, input.dims)).dims[0]).toBe(1);
    await small.close();
    await expect(small.run(input.data, input.dims)).rejects.toThrow(/stopped/);
  });
});
