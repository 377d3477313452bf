import type { ModelInfo } from '$lib/api/types';
import { EncodeError } from './errors';
import { loadModelBytes, loadModelInfo, saveModelInfo } from './model-cache';
import type { BackendPreference, EncoderBackend, FromWorker, Region, ToWorker } from './protocol';

/**
 * The page's side of in-browser encoding: loads the model (Cache API, download with progress),
 * starts the encoder worker on the best backend, and turns pictures into the same vectors the
 * server computes.
 */

export { EncodeError, BROWSER_LIMITS, type EncodeErrorCode } from './errors';
export type { BackendPreference, EncoderBackend, Region } from './protocol';

export interface LoadProgress {
  phase: 'manifest' | 'download' | 'cached' | 'session';
  loaded: number;
  total?: number;
}

export interface EncodeResult {
  vector: Float32Array;
  backend: EncoderBackend;
  /** Whole call as the page sees it; decode (with resize and tensor) and inference inside it. */
  ms: number;
  decodeMs: number;
  inferMs: number;
  /** The model's input pixels (interleaved RGB), only with `{ keepInput: true }`, for checks. */
  input?: Uint8ClampedArray;
}

/** GET /api/model, falling back to the copy kept with the cached model when the server is unreachable. */
export async function fetchModelInfo(): Promise<{ info: ModelInfo; fromCache: boolean }> {
  try {
    const response = await fetch('/api/model', { cache: 'no-store' });
    if (!response.ok) throw new Error(`The server answered ${response.status} for /api/model`);
    const info = (await response.json()) as ModelInfo;
    await saveModelInfo(info);
    return { info, fromCache: false };
  } catch (error) {
    const cached = await loadModelInfo().catch(() => undefined);
    if (cached) return { info: cached, fromCache: true };
    throw error;
  }
}

interface Pending {
  resolve(result: EncodeResult): void;
  reject(error: Error): void;
  started: number;
}

export class BrowserEncoder {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure?: EncodeError;

  private constructor(
    private readonly worker: Worker,
    readonly backend: EncoderBackend,
    readonly fallbackReason: string | undefined,
    readonly loadMs: number,
    readonly modelFromCache: boolean
  ) {
    worker.addEventListener('message', (event: MessageEvent<FromWorker>) =>
      this.settle(event.data)
    );
    worker.addEventListener('error', (event) => {
      this.fail(
        new EncodeError('model', `The encoder stopped: ${event.message || 'worker error'}`)
      );
    });
  }

  /** Loads the model (from the cache when possible) and starts a session on the best backend. */
  static async create(
    info: ModelInfo,
    options: { preference?: BackendPreference; onProgress?: (p: LoadProgress) => void } = {}
  ): Promise<BrowserEncoder> {
    const started = performance.now();
    const { onProgress } = options;
    let model: { bytes: ArrayBuffer; fromCache: boolean };
    try {
      model = await loadModelBytes(info.fileUrl, onProgress);
    } catch (error) {
      throw new EncodeError(
        'model',
        `The model could not be downloaded: ${error instanceof Error ? error.message : String(error)}`
      );
    }
    onProgress?.({
      phase: 'session',
      loaded: model.bytes.byteLength,
      total: model.bytes.byteLength
    });
    const worker = new Worker(new URL('./encoder.worker.ts', import.meta.url), {
      type: 'module',
      name: 'lookalike-encoder'
    });
    try {
      const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
        worker.onmessage = (event: MessageEvent<FromWorker>) => {
          const message = event.data;
          if (message.type === 'ready') resolve(message);
          else if (message.type === 'error') reject(new EncodeError(message.code, message.message));
        };
        worker.onerror = (event) => {
          event.preventDefault();
          reject(
            new EncodeError(
              'model',
              `The encoder could not start: ${event.message || 'worker error'}`
            )
          );
        };
        const init: ToWorker = {
          type: 'init',
          // A plain copy: callers may hold the info in reactive state (proxies cannot be cloned).
          manifest: JSON.parse(JSON.stringify(info)) as ModelInfo,
          model: model.bytes,
          preference: options.preference ?? 'auto'
        };
        worker.postMessage(init, [model.bytes]);
      });
      worker.onmessage = null;
      worker.onerror = null;
      return new BrowserEncoder(
        worker,
        ready.backend,
        ready.fallbackReason,
        performance.now() - started,
        model.fromCache
      );
    } catch (error) {
      worker.terminate();
      throw error;
    }
  }

  /** The picture's vector; `region` (oriented pixels) encodes only that part of it. */
  encode(
    image: Blob,
    region?: Region,
    options: { keepInput?: boolean } = {}
  ): Promise<EncodeResult> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<EncodeResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, started: performance.now() });
      const request: ToWorker = {
        type: 'encode',
        id,
        image,
        ...(region ? { region } : {}),
        ...(options.keepInput ? { keepInput: true } : {})
      };
      this.worker.postMessage(request);
    });
  }

  dispose(): void {
    this.worker.terminate();
    this.fail(new EncodeError('model', 'The encoder was closed.'));
  }

  private settle(message: FromWorker): void {
    if (message.type === 'ready' || message.id === undefined) return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.type === 'error') {
      pending.reject(new EncodeError(message.code, message.message));
      return;
    }
    pending.resolve({
      vector: message.vector,
      backend: this.backend,
      ms: performance.now() - pending.started,
      decodeMs: message.decodeMs,
      inferMs: message.inferMs,
      ...(message.input ? { input: message.input } : {})
    });
  }

  private fail(error: EncodeError): void {
    this.failure = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
