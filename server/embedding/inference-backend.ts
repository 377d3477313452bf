/** Runs the model on a prepared input batch; one implementation per runtime. */
export interface InferenceBackend {
  /** For logs and benchmarks, e.g. "onnxruntime-node cpu ×2 threads". */
  readonly description: string;
  run(
    input: Float32Array,
    dims: readonly number[]
  ): Promise<{ data: Float32Array; dims: number[] }>;
  close(): Promise<void>;
}
