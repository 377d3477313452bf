/** Runs the model on a prepared input batch; one implementation per runtime. */
export interface InferenceBackend {
  /** For logs and benchmarks, e.g. "onnxruntime-node cpu ×2 threads". */
  readonly description: string;
  /**
   * `transfer`: the caller gives `input` up — a backend running elsewhere may move its buffer
   * there instead of copying it, leaving `input` empty (detached) once `run` is called.
   */
  run(
    input: Float32Array,
    dims: readonly number[],
    options?: { transfer?: boolean }
  ): Promise<{ data: Float32Array; dims: number[] }>;
  close(): Promise<void>;
}
