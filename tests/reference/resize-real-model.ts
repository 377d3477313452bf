/**
 * Embedding cosine, with real weights, between Pillow's model input and the server decoder's and
 * core resize's (the browser's) for the pictures written by resize_real_model_inputs.py:
 *
 *   npx tsx tests/reference/resize-real-model.ts DIR [model id, default efficientnet-lite0]
 *
 * Needs the model in .cache/models (`npx lookalike model fetch efficientnet-lite0`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { SharpImageDecoder } from '../../server/embedding/sharp-decoder';
import { cachedModelPath, getManifest } from '../../server/models/registry';
import { planResize, writeInputTensor } from '#core/preprocess';
import { resizeForModel } from '#core/resize';
import { cosine } from '#core/vector';

const [dir, modelId = 'efficientnet-lite0'] = process.argv.slice(2);
if (!dir) throw new Error('usage: resize-real-model.ts DIR [model id]');
const manifest = getManifest(modelId);
const session = await ort.InferenceSession.create(cachedModelPath('.cache/models', manifest));
const decoder = new SharpImageDecoder({ maxPixels: 1e9, maxFileBytes: 1e10 });
const { width, height } = manifest.input;

async function embed(rgb: Uint8Array | Uint8ClampedArray): Promise<Float32Array> {
  const data = new Float32Array(3 * width * height);
  writeInputTensor(rgb, manifest, data);
  const dims = manifest.input.layout === 'NCHW' ? [1, 3, height, width] : [1, height, width, 3];
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', data, dims) };
  const output = (await session.run(feeds))[session.outputNames[0]!]!;
  return output.data as Float32Array;
}

const cosines: Record<string, { server: number[]; core: number[] }> = {};
for (const file of (await readdir(dir)).filter((f) => f.endsWith('.png')).sort()) {
  const bytes = await readFile(join(dir, file));
  const pillow = await embed(
    new Uint8Array(await readFile(join(dir, file.replace(/png$/, 'pil'))))
  );
  const { data, info } = await sharp(bytes)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plan = planResize(info.width, info.height, manifest.preprocess);
  const core = resizeForModel(data, info.width, info.height, 3, plan, 'bicubic');
  const server = (await decoder.decode(bytes, manifest)).pixels;
  const kind = (cosines[file.split('-')[0]!] ??= { server: [], core: [] });
  kind.server.push(cosine(await embed(server), pillow));
  kind.core.push(cosine(await embed(core), pillow));
}
const summary = (v: number[]) =>
  `min ${Math.min(...v).toFixed(5)}, mean ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(5)}`;
for (const [kind, { server, core }] of Object.entries(cosines)) {
  console.log(`${kind} (${server.length}): server ${summary(server)}; core ${summary(core)}`);
}
