import type { ModelInfo } from '$lib/api/types';
import { BrowserEncoder, fetchModelInfo, type EncoderBackend } from '$lib/encoder';
import type { BackendPreference } from './backend-preference';

export type EncoderPhase =
  'idle' | 'loading-info' | 'downloading' | 'starting' | 'ready' | 'failed';

/**
 * The in-browser encoder's life: fetch the model manifest, download (or read the cached) model
 * with progress, start an onnxruntime-web session on the preferred backend. Components read the
 * fields; the page calls `start()` once and again when the backend preference changes.
 */
class EncoderState {
  phase = $state<EncoderPhase>('idle');
  info = $state<ModelInfo | undefined>(undefined);
  /** Model download progress; total is unknown when the server sends no length. */
  loaded = $state(0);
  total = $state<number | undefined>(undefined);
  /** The model manifest came from this device's copy: the server could not be reached. */
  infoFromCache = $state(false);
  /** The backend that runs, and why a preferred one was not used. */
  backend = $state<EncoderBackend | undefined>(undefined);
  fallbackReason = $state<string | undefined>(undefined);
  error = $state<string | undefined>(undefined);
  encoder = $state.raw<BrowserEncoder | undefined>(undefined);

  /** Bumped per start so a slow, superseded start cannot overwrite a newer one. */
  #generation = 0;

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

  async start(preference: BackendPreference): Promise<void> {
    const generation = ++this.#generation;
    const current = () => generation === this.#generation;
    const previous = this.encoder;
    this.encoder = undefined;
    this.error = undefined;
    this.loaded = 0;
    this.total = undefined;
    this.phase = 'loading-info';
    try {
      previous?.dispose?.();
      const { info, fromCache } = await fetchModelInfo();
      if (!current()) return;
      this.info = info;
      this.infoFromCache = fromCache;
      this.phase = 'downloading';
      const encoder = await BrowserEncoder.create(info, {
        preference,
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
      this.backend = encoder.backend;
      this.fallbackReason = encoder.fallbackReason;
      this.phase = 'ready';
    } catch (error) {
      if (!current()) return;
      this.error = describeStartError(error);
      this.phase = 'failed';
    }
  }
}

function describeStartError(error: unknown): string {
  // fetch's own network failure: no server, and fetchModelInfo found no saved manifest either.
  if (error instanceof TypeError) {
    return 'the server cannot be reached and no copy of the model is saved on this device';
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The worker's thread count, by the same rule as src/lib/encoder/session.ts (threads need
 * cross-origin isolation; at most 4): the worker reports only 'wasm-threads'.
 */
function wasmThreads(): number {
  if (!globalThis.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
}

/** 'WebGPU', 'WebAssembly, 2 threads', 'WebAssembly': how the backend is named on the page. */
export function backendLabel(backend: EncoderBackend | undefined): string {
  switch (backend) {
    case 'webgpu':
      return 'WebGPU';
    case 'wasm-threads':
      return `WebAssembly, ${wasmThreads()} threads`;
    case 'wasm':
      return 'WebAssembly';
    default:
      return 'not started';
  }
}

export const encoderState = new EncoderState();
