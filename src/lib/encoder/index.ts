import { DEFAULT_COLLECTION, withCollection } from '$lib/api/collection-scope';
import type { ModelInfo } from '$lib/api/types';
import { EncodeError } from './errors';
import { loadModelBytes, loadModelInfo, saveModelInfo } from './model-cache';
import type { BackendPreference, EncoderBackend, FromWorker, Region, ToWorker } from './protocol';

/**
 * The page's side of in-browser encoding: loads the model (Cache API, download with progress),
 * starts the encoder worker on the best backend, and turns pictures into the same vectors the
 * server computes.
 */

export {
  EncodeError,
  BROWSER_LIMITS,
  formatMebibytes,
  formatMegapixels,
  isSuperseded,
  type EncodeErrorCode
} from './errors';
export type { BackendPreference, EncoderBackend, Region } from './protocol';

export interface LoadProgress {
  phase: 'download' | 'cached' | 'session';
  loaded: number;
  total?: number;
}

export interface EncodeResult {
  vector: Float32Array;
  backend: EncoderBackend;
  /** WebAssembly threads the runtime uses. */
  threads: number;
  /** Whole call as the page sees it; decode (with resize and tensor) and inference inside it. */
  ms: number;
  decodeMs: number;
  inferMs: number;
  /** The model's input pixels (interleaved RGB), only with `{ keepInput: true }`, for checks. */
  input?: Uint8ClampedArray;
}

/**
 * GET /api/model for `collection` (each collection has its own model), falling back to the copy
 * kept with the cached model when the server is unreachable.
 */
export async function fetchModelInfo(
  collection: string = DEFAULT_COLLECTION
): Promise<{ info: ModelInfo; fromCache: boolean }> {
  try {
    const response = await fetch(withCollection('/api/model', collection), { cache: 'no-store' });
    if (!response.ok) throw new Error(`The server answered ${response.status} for /api/model`);
    // Kept for offline use only once its model file is cached too (BrowserEncoder.create): an
    // interrupted download of a new model must not strand the page without any model offline.
    const info = (await response.json()) as ModelInfo;
    return { info, fromCache: false };
  } catch (error) {
    const cached = await loadModelInfo(collection).catch(() => undefined);
    if (cached) return { info: cached, fromCache: true };
    throw error;
  }
}

interface Pending {
  resolve(result: EncodeResult): void;
  reject(error: Error): void;
  started: number;
  /** A newer `supersede` request may cancel this one. */
  supersedable: boolean;
}

/**
 * The checksum to verify the file against: the server states it when it knows it (a browser
 * copy it wrote, or a verified download). A generated or hand-supplied file has none.
 */
function publishedSha256(info: ModelInfo): string | undefined {
  return info.fileSha256;
}

type Ready = Extract<FromWorker, { type: 'ready' }>;

/** A new encoder worker with a session on `bytes` (transferred), or an EncodeError. */
async function startWorker(
  info: ModelInfo,
  bytes: ArrayBuffer,
  preference: BackendPreference
): Promise<{ worker: Worker; ready: Ready }> {
  const worker = new Worker(new URL('./encoder.worker.ts', import.meta.url), {
    type: 'module',
    name: 'lookalike-encoder'
  });
  try {
    const ready = await new Promise<Ready>((resolve, reject) => {
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
        model: bytes,
        preference
      };
      worker.postMessage(init, [bytes]);
    });
    worker.onmessage = null;
    worker.onerror = null;
    return { worker, ready };
  } catch (error) {
    worker.terminate();
    throw error;
  }
}

export class BrowserEncoder {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure?: EncodeError;
  /** Called once if the worker dies after it was ready (e.g. out of memory): the page can retry. */
  onfailure?: (error: EncodeError) => void;

  private constructor(
    private readonly worker: Worker,
    readonly backend: EncoderBackend,
    readonly threads: number,
    readonly fallbackReason: string | undefined,
    readonly loadMs: number,
    readonly modelFromCache: boolean
  ) {
    worker.addEventListener('message', (event: MessageEvent<FromWorker>) =>
      this.settle(event.data)
    );
    worker.addEventListener('error', (event) => {
      const error = new EncodeError(
        'model',
        `The encoder stopped: ${event.message || 'worker error'}`
      );
      this.fail(error);
      this.onfailure?.(error);
    });
  }

  /**
   * Loads the model (from the cache when possible) and starts a session on the best backend. A
   * cached copy that cannot start a session, and was not verified against a published checksum,
   * is downloaded once more (it may be damaged); when that download fails too, the cached copy is
   * kept and the first error reported.
   */
  static async create(
    info: ModelInfo,
    options: {
      preference?: BackendPreference;
      onProgress?: (p: LoadProgress) => void;
      /** Whose model this is: kept as that collection's model for offline use. */
      collection?: string;
    } = {}
  ): Promise<BrowserEncoder> {
    const started = performance.now();
    const { onProgress } = options;
    const preference = options.preference ?? 'auto';
    const load = async (refresh: boolean) => {
      let model: { bytes: ArrayBuffer; fromCache: boolean };
      try {
        model = await loadModelBytes(info, {
          sha256: publishedSha256(info),
          refresh,
          ...(onProgress ? { onProgress } : {})
        });
      } catch (error) {
        throw new EncodeError(
          'model',
          `The model could not be downloaded: ${error instanceof Error ? error.message : String(error)}`
        );
      }
      const size = model.bytes.byteLength;
      onProgress?.({ phase: 'session', loaded: size, total: size });
      return model;
    };
    let model = await load(false);
    let launched: { worker: Worker; ready: Ready };
    try {
      launched = await startWorker(info, model.bytes, preference);
    } catch (error) {
      // Verified bytes are not the problem (memory, missing runtime files): keep them.
      if (!model.fromCache || publishedSha256(info)) throw error;
      try {
        model = await load(true);
      } catch {
        throw error;
      }
      launched = await startWorker(info, model.bytes, preference);
    }
    await saveModelInfo(info, options.collection).catch(() => undefined);
    const { worker, ready } = launched;
    return new BrowserEncoder(
      worker,
      ready.backend,
      ready.threads,
      ready.fallbackReason,
      performance.now() - started,
      model.fromCache
    );
  }

  /**
   * The picture's vector; `region` (oriented pixels) encodes only that part of it. With
   * `supersede`, earlier `supersede` requests still waiting (or decoding) are skipped and reject
   * with an EncodeError 'superseded': the page wants only its newest picture.
   */
  encode(
    image: Blob,
    region?: Region,
    options: { keepInput?: boolean; supersede?: boolean } = {}
  ): Promise<EncodeResult> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    if (options.supersede) {
      const older = [...this.pending].filter(([, p]) => p.supersedable).map(([key]) => key);
      if (older.length > 0)
        this.worker.postMessage({ type: 'cancel', ids: older } satisfies ToWorker);
    }
    return new Promise<EncodeResult>((resolve, reject) => {
      this.pending.set(id, {
        resolve,
        reject,
        started: performance.now(),
        supersedable: options.supersede === true
      });
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
    // Closed for a new one (backend switch) or a page left: callers need not show this.
    this.fail(new EncodeError('superseded', 'The encoder was closed.'));
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
      threads: this.threads,
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
