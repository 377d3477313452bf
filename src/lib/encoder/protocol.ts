import type { ModelManifest } from '#core/model-manifest';
import type { EncodeErrorCode } from './errors';

/** Messages between the page and the encoder worker. */

export type EncoderBackend = 'webgpu' | 'wasm-threads' | 'wasm';
export type BackendPreference = 'auto' | 'webgpu' | 'wasm';

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type ToWorker =
  | {
      type: 'init';
      manifest: ModelManifest;
      /** The ONNX file, transferred (not copied) to the worker. */
      model: ArrayBuffer;
      preference: BackendPreference;
    }
  | { type: 'encode'; id: number; image: Blob; region?: Region; keepInput?: boolean }
  /** Skip these queued (or still decoding) requests: a newer one replaced them. */
  | { type: 'cancel'; ids: number[] };

export type FromWorker =
  | {
      type: 'ready';
      backend: EncoderBackend;
      /** WebAssembly threads the runtime uses (1 without cross-origin isolation). */
      threads: number;
      fallbackReason?: string;
    }
  | {
      type: 'result';
      id: number;
      vector: Float32Array;
      decodeMs: number;
      inferMs: number;
      /** The model's input pixels (interleaved RGB), when asked for with `keepInput`. */
      input?: Uint8ClampedArray;
    }
  | { type: 'error'; id?: number; code: EncodeErrorCode; message: string };
