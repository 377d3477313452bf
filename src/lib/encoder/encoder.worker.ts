/**
 * The encoder worker: owns the onnxruntime-web session, so decoding, resizing and inference never
 * block the page. One request at a time, in arrival order (a session runs one call at a time);
 * a `cancel` message is handled at once, so requests a newer one replaced are skipped.
 */
import type { ModelManifest } from '#core/model-manifest';
import { ImageGeometryError, planResize, writeInputTensor } from '#core/preprocess';
import { resizeForModel, UnsupportedInterpolationError } from '#core/resize';
import { decodeImage } from './decode';
import { EncodeError } from './errors';
import type { FromWorker, ToWorker } from './protocol';
import { createModelSession, type ModelSession } from './session';

interface WorkerScope {
  name: string;
  addEventListener(type: 'message', listener: (event: MessageEvent<ToWorker>) => void): void;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

let manifest: ModelManifest | undefined;
let session: ModelSession | undefined;
let queue: Promise<unknown> = Promise.resolve();
/** Ids of encode requests the page no longer wants (removed once skipped). */
const cancelled = new Set<number>();

function skipIfCancelled(id: number): void {
  if (cancelled.delete(id)) {
    throw new EncodeError('superseded', 'A newer picture replaced this one.');
  }
}

async function encode(request: Extract<ToWorker, { type: 'encode' }>): Promise<void> {
  skipIfCancelled(request.id);
  if (!manifest || !session) throw new EncodeError('model', 'The model is not loaded yet.');
  const started = performance.now();
  const { pixels, width, height } = await decodeImage(
    request.image,
    manifest.preprocess.background,
    request.region
  );
  let rgb: Uint8ClampedArray;
  try {
    const plan = planResize(width, height, manifest.preprocess);
    rgb = resizeForModel(pixels, width, height, 4, plan, manifest.preprocess.interpolation);
  } catch (error) {
    if (error instanceof ImageGeometryError) throw new EncodeError('bad-geometry', error.message);
    if (error instanceof UnsupportedInterpolationError) {
      throw new EncodeError('model', error.message);
    }
    throw error;
  }
  // Decoding a big picture takes a while: a newer request may have come in meanwhile.
  skipIfCancelled(request.id);
  // A fresh buffer for every run: the runtime may keep or detach the one it was given.
  const input = new Float32Array(3 * manifest.input.width * manifest.input.height);
  writeInputTensor(rgb, manifest, input);
  const decoded = performance.now();
  let vector: Float32Array;
  try {
    vector = await session.embed(input);
  } catch (error) {
    throw new EncodeError('model', `The model failed on this picture: ${messageOf(error)}`);
  }
  const message: FromWorker = {
    type: 'result',
    id: request.id,
    vector,
    decodeMs: decoded - started,
    inferMs: performance.now() - decoded,
    ...(request.keepInput ? { input: rgb } : {})
  };
  scope.postMessage(message, [vector.buffer]);
}

async function handle(message: Exclude<ToWorker, { type: 'cancel' }>): Promise<void> {
  if (message.type === 'init') {
    manifest = message.manifest;
    try {
      session = await createModelSession(
        new Uint8Array(message.model),
        manifest,
        message.preference
      );
    } catch (error) {
      throw new EncodeError('model', `The model could not be loaded: ${messageOf(error)}`);
    }
    scope.postMessage({
      type: 'ready',
      backend: session.backend,
      threads: session.threads,
      ...(session.fallbackReason ? { fallbackReason: session.fallbackReason } : {})
    });
  } else {
    try {
      await encode(message);
    } finally {
      cancelled.delete(message.id);
    }
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

// onnxruntime-web starts its WASM threads from this same script, named "em-pthread…": those copies
// must leave the messages to the runtime.
if (!scope.name.startsWith('em-pthread')) {
  scope.addEventListener('message', (event) => {
    const message = event.data;
    if (message.type === 'cancel') {
      for (const id of message.ids) cancelled.add(id);
      return;
    }
    queue = queue.then(() =>
      handle(message).catch((error: unknown) => {
        const failure =
          error instanceof EncodeError ? error : new EncodeError('model', messageOf(error));
        scope.postMessage({
          type: 'error',
          ...(message.type === 'encode' ? { id: message.id } : {}),
          code: failure.code,
          message: failure.message
        });
      })
    );
  });
}
