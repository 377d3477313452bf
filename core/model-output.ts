import type { ModelManifest } from './model-manifest';
import { l2Normalize, poolOutput } from './vector';

/**
 * From a model's graph to its vectors, written once for onnxruntime-node on the server and
 * onnxruntime-web in the browser: which tensors to use, and how an output becomes unit vectors.
 */

/**
 * The graph tensor the manifest names, or its only one when the manifest leaves the name out;
 * anything else means the file does not belong to this manifest.
 */
export function pickTensorName(
  kind: 'input' | 'output',
  available: readonly string[],
  wanted?: string
): string {
  if (wanted) {
    if (available.includes(wanted)) return wanted;
    throw new Error(
      `Model file has no ${kind} "${wanted}" (it has ${available.join(', ')}): wrong file for this manifest?`
    );
  }
  const [only, ...rest] = available;
  if (!only || rest.length > 0) {
    throw new Error(`Model has ${kind}s ${available.join(', ')}; the manifest must name one`);
  }
  return only;
}

/**
 * One vector per image from a `[batch, channels, ...spatial]` output: pooled as the manifest
 * says, checked against its dimension, L2-normalised when it asks.
 */
export function vectorsFromOutput(
  data: Float32Array,
  dims: readonly number[],
  manifest: Pick<ModelManifest, 'id' | 'output' | 'dimension'>
): Float32Array[] {
  const pooled = poolOutput(data, dims, manifest.output.pooling);
  if (pooled[0]?.length !== manifest.dimension) {
    throw new Error(
      `Model output has ${pooled[0]?.length} values per image; manifest ${manifest.id} says ${manifest.dimension}`
    );
  }
  return manifest.output.normalize ? pooled.map((v) => l2Normalize(v)) : pooled;
}
