import { DEFAULT_COLLECTION } from '$lib/api/collection-scope';
import type { ModelInfo } from '$lib/api/types';
import { BrowserEncoder, fetchModelInfo, type EncoderBackend } from '$lib/encoder';
import { saveModelInfo, sameModelFile } from '$lib/encoder/model-cache';
import type { BackendPreference } from './backend-preference';

export type EncoderPhase =
  'idle' | 'loading-info' | 'downloading' | 'starting' | 'ready' | 'failed';

/** The model could not be loaded, so nothing can be encoded; the message says why. */
export class ModelUnavailableError extends Error {
  override readonly name = 'ModelUnavailableError';
}

interface Waiter {
  resolve(encoder: BrowserEncoder): void;
  reject(error: Error): void;
}

/**
 * The in-browser encoder's life: fetch the model manifest, download (or read the cached) model
 * with progress, start an onnxruntime-web session on the preferred backend. Components read the
 * fields; the page calls `start()` once and again when the backend preference changes, and
 * `retry()` (or `connectionChanged`) after a failure. Queries are encoded with the model of the
 * collection the page shows (`useCollection`): another collection's model loads in its place.
 */
class EncoderState {
  phase = $state<EncoderPhase>('idle');
  info = $state<ModelInfo | undefined>(undefined);
  /** The collection whose model `info` is. */
  infoCollection = $state(DEFAULT_COLLECTION);
  /** Model download progress; total is unknown when the server sends no length. */
  loaded = $state(0);
  total = $state<number | undefined>(undefined);
  /** The model manifest came from this device's copy: the server could not be reached. */
  infoFromCache = $state(false);
  /** The backend that runs, its WebAssembly threads, and why a preferred one was not used. */
  backend = $state<EncoderBackend | undefined>(undefined);
  threads = $state<number | undefined>(undefined);
  fallbackReason = $state<string | undefined>(undefined);
  error = $state<string | undefined>(undefined);
  encoder = $state.raw<BrowserEncoder | undefined>(undefined);

  /** Bumped per start so a slow, superseded start cannot overwrite a newer one. */
  #generation = 0;
  #preference: BackendPreference = 'auto';
  #waiters: Waiter[] = [];
  #online: boolean | undefined;
  #collection = DEFAULT_COLLECTION;

  /** The collection whose model this encodes with (or is loading). */
  get collection(): string {
    return this.#collection;
  }

  get ready(): boolean {
    return this.phase === 'ready' && this.encoder !== undefined;
  }

  /** Why search cannot run yet, or undefined when it can. */
  get notReadyReason(): string | undefined {
    switch (this.phase) {
      case 'ready':
        return undefined;
      case 'idle':
      case 'loading-info':
        return 'Search is available once the model has loaded.';
      case 'downloading':
        return 'Search is available once the model has downloaded.';
      case 'starting':
        return 'Search is available once the model has started.';
      case 'failed':
        return `Search is unavailable: ${this.error ?? 'the model could not be loaded'}.`;
    }
  }

  /**
   * The encoder once it is ready (now, or after the load under way, including one started for
   * another backend meanwhile); rejects with the reason when loading fails. Lets the page take a
   * picture while the model loads and search once it can.
   */
  whenReady(): Promise<BrowserEncoder> {
    if (this.phase === 'ready' && this.encoder) return Promise.resolve(this.encoder);
    if (this.phase === 'failed') {
      return Promise.reject(new ModelUnavailableError(this.notReadyReason));
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Starts again with the last preference (the Retry button). */
  retry(): Promise<void> {
    return this.start(this.#preference);
  }

  /**
   * The server's reachability changed: a load that failed (typically: no server at the first
   * visit, no model saved yet) is retried when it comes back, rather than staying failed until
   * the page is reloaded. Only on the change to online, so a model that fails for another reason
   * is not retried in a loop.
   */
  connectionChanged(online: boolean | undefined): void {
    const cameBack = online === true && this.#online !== true;
    this.#online = online;
    if (cameBack && this.phase === 'failed') void this.retry();
  }

  /**
   * The page shows another collection. Its model is asked for; when it is the same file as the
   * one running (collections of one model), the encoder stays and this resolves `false`;
   * otherwise that model loads in its place (as `start` does) and this resolves `true` at once,
   * so the caller can wait for it with `whenReady()`.
   */
  async useCollection(collection: string): Promise<boolean> {
    if (collection === this.#collection) return false;
    this.#collection = collection;
    if (this.phase !== 'ready' || !this.info) {
      // Nothing running to keep (idle, failed or loading the old collection's model): start over.
      if (this.phase !== 'idle') void this.start(this.#preference);
      return true;
    }
    const generation = this.#generation;
    const fetched = await fetchModelInfo(collection).catch(() => undefined);
    // Superseded: another switch, or a start (which loads the current collection's model).
    if (collection !== this.#collection || generation !== this.#generation) return true;
    if (fetched && this.info && this.phase === 'ready' && sameModelFile(fetched.info, this.info)) {
      this.info = fetched.info;
      this.infoCollection = collection;
      this.infoFromCache = fetched.fromCache;
      // Its file is cached already: remember the answer so this collection works offline too.
      if (!fetched.fromCache) await saveModelInfo(fetched.info, collection);
      return false;
    }
    void this.start(this.#preference, fetched);
    return true;
  }

  /** Loads the model of the collection in use; `known` is its manifest when already fetched. */
  async start(
    preference: BackendPreference,
    known?: { info: ModelInfo; fromCache: boolean }
  ): Promise<void> {
    const generation = ++this.#generation;
    const current = () => generation === this.#generation;
    const collection = this.#collection;
    this.#preference = preference;
    const previous = this.encoder;
    this.encoder = undefined;
    this.error = undefined;
    this.loaded = 0;
    this.total = undefined;
    this.phase = 'loading-info';
    try {
      previous?.dispose?.();
      const { info, fromCache } = known ?? (await fetchModelInfo(collection));
      if (!current()) return;
      this.info = info;
      this.infoCollection = collection;
      this.infoFromCache = fromCache;
      this.phase = 'downloading';
      const encoder = await BrowserEncoder.create(info, {
        preference,
        collection,
        onProgress: (progress) => {
          if (!current()) return;
          this.loaded = progress.loaded;
          this.total = progress.total;
          if (progress.phase === 'session') this.phase = 'starting';
        }
      });
      if (!current()) {
        encoder.dispose?.();
        return;
      }
      this.encoder = encoder;
      encoder.onfailure = (error) => {
        if (this.encoder !== encoder) return;
        this.encoder = undefined;
        this.error = describeStartError(error);
        this.phase = 'failed';
      };
      this.backend = encoder.backend;
      this.threads = encoder.threads;
      this.fallbackReason = encoder.fallbackReason;
      this.phase = 'ready';
      this.#settleWaiters((waiter) => waiter.resolve(encoder));
    } catch (error) {
      if (!current()) return;
      this.error = describeStartError(error);
      this.phase = 'failed';
      const reason = new ModelUnavailableError(this.notReadyReason);
      this.#settleWaiters((waiter) => waiter.reject(reason));
    }
  }

  #settleWaiters(settle: (waiter: Waiter) => void): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) settle(waiter);
  }
}

function describeStartError(error: unknown): string {
  // fetch's own network failure: no server, and fetchModelInfo found no saved manifest either.
  if (error instanceof TypeError) {
    return 'the server cannot be reached and no copy of the model is saved on this device';
  }
  return error instanceof Error ? error.message : String(error);
}

/** 'WebGPU', 'WebAssembly, 2 threads', 'WebAssembly': how the backend is named on the page. */
export function backendLabel(backend: EncoderBackend | undefined, threads?: number): string {
  switch (backend) {
    case 'webgpu':
      return 'WebGPU';
    case 'wasm-threads':
      return threads ? `WebAssembly, ${threads} threads` : 'WebAssembly, threads';
    case 'wasm':
      return 'WebAssembly';
    default:
      return 'not started';
  }
}

export { EncoderState };
export const encoderState = new EncoderState();
