import * as ort from 'onnxruntime-web';
import type { ModelManifest } from '#core/model-manifest';
import { pickTensorName, vectorsFromOutput } from '#core/model-output';
import type { BackendPreference, EncoderBackend } from './protocol';

/** An onnxruntime-web session on the chosen backend, turning input tensors into unit vectors. */
export interface ModelSession {
  backend: EncoderBackend;
  /** WebAssembly threads (WebGPU runs on the same runtime, so it has them too). */
  threads: number;
  fallbackReason?: string;
  /** One image's input tensor (fresh buffer per call) → its vector, as the server computes it. */
  embed(input: Float32Array): Promise<Float32Array>;
}

interface GpuAdapterLike {
  isFallbackAdapter?: boolean;
  info?: { isFallbackAdapter?: boolean };
}
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}

/**
 * Why WebGPU cannot be used here, or undefined when it can. `auto` passes over a software
 * (fallback) adapter: on SwiftShader ResNet-50 takes seconds per image, far slower than WASM.
 */
async function webGpuProblem(preference: BackendPreference): Promise<string | undefined> {
  const gpu = (navigator as Navigator & { gpu?: GpuLike }).gpu;
  if (!gpu) {
    // navigator.gpu exists only in secure contexts: on plain HTTP the page, not the browser, lacks it.
    return globalThis.isSecureContext === false
      ? 'WebGPU needs a secure page (HTTPS, or localhost); this one is plain HTTP'
      : 'This browser has no WebGPU';
  }
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return 'WebGPU found no usable graphics adapter';
  const software = adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  if (software && preference === 'auto') {
    return 'WebGPU only offers a slow software adapter here';
  }
  return undefined;
}

/** Threads need cross-origin isolation (SharedArrayBuffer); more than 4 gains little. */
function wasmThreads(): number {
  if (!globalThis.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
}

function describeWasm(threads: number): string {
  return `using WebAssembly (${threads === 1 ? 'single thread' : `${threads} threads`})`;
}

/**
 * WebGPU when preferred and it starts, otherwise WASM with SIMD and as many threads as the page
 * may use. `fallbackReason` says why WebGPU was wanted (auto or webgpu) but not used.
 */
export async function createModelSession(
  model: Uint8Array,
  manifest: Pick<ModelManifest, 'id' | 'input' | 'output' | 'dimension'>,
  preference: BackendPreference
): Promise<ModelSession> {
  // Before anything starts the WASM runtime (WebGPU runs on it too): threads are fixed then.
  const threads = wasmThreads();
  ort.env.wasm.numThreads = threads;
  let session: ort.InferenceSession | undefined;
  let backend: EncoderBackend = 'webgpu';
  let problem: string | undefined;
  if (preference !== 'wasm') {
    problem = await webGpuProblem(preference);
    if (!problem) {
      try {
        session = await ort.InferenceSession.create(model, {
          executionProviders: ['webgpu'],
          graphOptimizationLevel: 'all'
        });
      } catch (error) {
        problem = `WebGPU could not run the model (${error instanceof Error ? error.message : String(error)})`;
      }
    }
  }
  if (!session) {
    backend = threads > 1 ? 'wasm-threads' : 'wasm';
    session = await ort.InferenceSession.create(model, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all'
    });
    if (problem) problem = `${problem}; ${describeWasm(threads)}`;
  }
  const inputName = pickTensorName('input', session.inputNames, manifest.input.name);
  const outputName = pickTensorName('output', session.outputNames, manifest.output.name);
  const { width, height, layout } = manifest.input;
  const dims = layout === 'NCHW' ? [1, 3, height, width] : [1, height, width, 3];
  const ready = session;

  return {
    backend,
    threads,
    ...(problem ? { fallbackReason: problem } : {}),
    async embed(input) {
      const result = await ready.run({ [inputName]: new ort.Tensor('float32', input, dims) });
      const output = result[outputName];
      if (!output || output.type !== 'float32') {
        throw new Error(`Model output ${outputName} is not float32`);
      }
      // The server's own code from output to vector (core), so both sides agree by construction.
      const [vector] = vectorsFromOutput(
        output.data as Float32Array,
        output.dims.map(Number),
        manifest
      );
      output.dispose();
      return vector!;
    }
  };
}
