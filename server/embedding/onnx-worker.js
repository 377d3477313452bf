// @ts-check
// The onnxruntime session's own thread (see onnx-node-backend.ts for why). Plain JavaScript so
// that it loads the same way under tsx, vitest and plain node: a worker does not inherit the
// TypeScript loader the main thread was started with.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

/** @type {{ modelPath: string, sessionOptions: ort.InferenceSession.SessionOptions }} */
const { modelPath, sessionOptions } = workerData;
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/** @type {ort.InferenceSession} */
let session;
try {
  session = await ort.InferenceSession.create(modelPath, sessionOptions);
  port.postMessage({
    type: 'ready',
    inputNames: session.inputNames,
    outputNames: session.outputNames
  });
} catch (error) {
  port.postMessage({
    type: 'failed',
    message: error instanceof Error ? error.message : `${error}`
  });
  process.exit(1);
}

/** @typedef {{ type: 'run', id: number, input: Float32Array, dims: number[], inputName: string, outputName: string } | { type: 'close' }} Message */

// One message at a time, in order: a close never releases the session under a running batch.
let queue = Promise.resolve();
port.on('message', (/** @type {Message} */ message) => {
  queue = queue.then(() => handle(message));
});

/** @param {Message} message */
async function handle(message) {
  if (message.type === 'close') {
    await session.release();
    port.close();
    return;
  }
  const { id, input, dims, inputName, outputName } = message;
  try {
    const result = await session.run({ [inputName]: new ort.Tensor('float32', input, dims) }, [
      outputName
    ]);
    const output = result[outputName];
    if (!output || output.type !== 'float32')
      throw new Error(`Model output ${outputName} is not float32`);
    // Copied (a batch's vectors are a few kB), not moved: the buffer may be onnxruntime's own.
    port.postMessage({ type: 'result', id, data: output.data, dims: output.dims.map(Number) });
  } catch (error) {
    port.postMessage({
      type: 'error',
      id,
      message: error instanceof Error ? error.message : `${error}`
    });
  }
}
