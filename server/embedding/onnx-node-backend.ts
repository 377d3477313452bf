import * as ort from 'onnxruntime-node';
import type { ModelManifest } from '#core/model-manifest';
import { pickTensorName } from '#core/model-output';
import type { InferenceBackend } from './inference-backend';

// onnxruntime's telemetry, on creating its environment, matches the whole process command line
// against regular expressions whose backtracking recurses about twice per byte in libstdc++:
// `lookalike embed` over ~650 paths (25 KB of argv) overflowed the stack and died with SIGSEGV.
// Lookalike sends no telemetry anyway; the variable is read when the first session is created.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

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
  const inputName = pickTensorName('input', session.inputNames, manifest.input.name);
  const outputName = pickTensorName('output', session.outputNames, manifest.output.name);
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
