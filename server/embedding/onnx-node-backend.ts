import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import type { ModelManifest } from '#core/model-manifest';
import { pickTensorName } from '#core/model-output';
import type { InferenceBackend } from './inference-backend';

// onnxruntime's telemetry, on creating its environment, matches the whole process command line
// against regular expressions whose backtracking recurses about twice per byte in libstdc++:
// `lookalike embed` over ~650 paths (25 KB of argv) overflowed the stack and died with SIGSEGV.
// Lookalike sends no telemetry anyway; the variable is read when the first session is created
// (the worker gets a copy of this process's environment as it is when the worker starts).
process.env.ORT_DISABLE_TELEMETRY ??= '1';

type FromWorker =
  | { type: 'ready'; inputNames: string[]; outputNames: string[] }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; data: Float32Array; dims: number[] }
  | { type: 'error'; id: number; message: string };

/**
 * onnxruntime-node on a worker thread of its own. Its `session.run` is synchronous on the calling
 * thread (a `setImmediate` around the native call): on the main thread one batch blocked the event
 * loop for its whole inference (8 × 25 ms with ResNet-50), so nothing else an index job does —
 * starting the next decodes, reading, hashing, catalog queries — and no HTTP request could
 * proceed meanwhile; the profile of an index job showed 47% of the main thread inside `run`.
 * On its own thread inference overlaps all of that. The input batch is copied to the worker
 * (a few MB) unless the caller hands it over (`transfer`, as the Embedder does).
 */
export async function createOnnxNodeBackend(
  modelPath: string,
  manifest: Pick<ModelManifest, 'input' | 'output'>,
  options: { threads: number }
): Promise<InferenceBackend> {
  const sessionOptions: InferenceSession.SessionOptions = {
    intraOpNumThreads: options.threads,
    // One image batch at a time: parallelism lives inside each operator.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Idle intra-op threads sleep instead of spinning between operators: on a 2-core machine the
    // spinning took the CPU that decoding the next batch needs (model-only CPU per image fell
    // from ~25 to ~15 ms with EfficientNet-Lite0 under load; bench/README.md, Indexing).
    extra: { session: { intra_op: { allow_spinning: '0' } } }
  };
  const worker = new Worker(new URL('./onnx-worker.js', import.meta.url), {
    workerData: { modelPath, sessionOptions }
  });
  const pending = new Map<
    number,
    { resolve: (r: FromWorker) => void; reject: (e: Error) => void }
  >();
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  const ready = new Promise<{ inputNames: string[]; outputNames: string[] }>((resolve, reject) => {
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'failed') reject(new Error(message.message));
      else {
        const waiting = pending.get(message.id);
        pending.delete(message.id);
        // Idle, the worker must not keep the process alive (a CLI that forgot close() still ends).
        if (pending.size === 0) worker.unref();
        if (message.type === 'error') waiting?.reject(new Error(message.message));
        else waiting?.resolve(message);
      }
    });
    worker.on('error', (error) => {
      reject(error);
      fail(error);
    });
    worker.on('exit', (code) => {
      const error = new Error(`The inference worker stopped (exit code ${code})`);
      reject(error);
      fail(error);
    });
  });
  const { inputNames, outputNames } = await ready.catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  worker.unref();
  const inputName = pickTensorName('input', inputNames, manifest.input.name);
  const outputName = pickTensorName('output', outputNames, manifest.output.name);
  let nextId = 0;
  return {
    description: `onnxruntime-node cpu, ${options.threads} thread${options.threads === 1 ? '' : 's'}`,
    async run(input, dims, runOptions) {
      if (failure) throw failure;
      const id = nextId++;
      const result = new Promise<FromWorker>((resolve, reject) =>
        pending.set(id, { resolve, reject })
      );
      worker.ref();
      // A whole buffer can move; a view into a larger one is copied (moving would take the rest).
      const move =
        runOptions?.transfer &&
        input.byteOffset === 0 &&
        input.byteLength === input.buffer.byteLength &&
        input.buffer instanceof ArrayBuffer;
      worker.postMessage(
        { type: 'run', id, input, dims: [...dims], inputName, outputName },
        move ? [input.buffer as ArrayBuffer] : []
      );
      const { data, dims: outDims } = (await result) as Extract<FromWorker, { type: 'result' }>;
      return { data, dims: outDims };
    },
    async close() {
      if (failure) return;
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.ref();
      worker.postMessage({ type: 'close' });
      await exited;
    }
  };
}
