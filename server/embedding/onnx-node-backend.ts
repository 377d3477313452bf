import * as ort from 'onnxruntime-node';
import type { ModelManifest } from '../../src/lib/core/model-manifest';
import type { InferenceBackend } from './inference-backend';

// onnxruntime's telemetry, on creating its environment, matches the whole process command line
// against regular expressions whose backtracking recurses about twice per byte in libstdc++:
// `lookalike embed` over ~650 paths (25 KB of argv) overflowed the stack and died with SIGSEGV.
// Lookalike sends no telemetry anyway; the variable is read when the first session is created.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

/**
 * Picks the graph's tensor the manifest names, or its only one when the manifest leaves the name
 * out; anything else means the file does not belong to this manifest.
 */
function pickName(kind: 'input' | 'output', available: readonly string[], wanted?: string): string {
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

export async function createOnnxNodeBackend(
  modelPath: string,
  manifest: Pick<ModelManifest, 'input' | 'output'>,
  options: { threads: number }
): Promise<InferenceBackend> {
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: options.threads,
    // One image batch at a time: parallelism lives inside each operator.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all'
  });
  const inputName = pickName('input', session.inputNames, manifest.input.name);
  const outputName = pickName('output', session.outputNames, manifest.output.name);
  return {
    description: `onnxruntime-node cpu, ${options.threads} thread${options.threads === 1 ? '' : 's'}`,
    async run(input, dims) {
      const tensor = new ort.Tensor('float32', input, [...dims]);
      const result = await session.run({ [inputName]: tensor });
      const output = result[outputName];
      if (!output || output.type !== 'float32')
        throw new Error(`Model output ${outputName} is not float32`);
      return { data: output.data as Float32Array, dims: output.dims.map(Number) };
    },
    close: () => session.release()
  };
}
