import type { ModelManifest } from '#core/model-manifest';
import { buildInputBatch } from '#core/preprocess';
import { vectorsFromOutput } from '#core/model-output';
import type { DecodedImage, ImageDecoder } from './image-decoder';
import type { InferenceBackend } from './inference-backend';

export interface EmbedResult {
  input: string;
  vector?: Float32Array;
  error?: string;
  /** Wall time spent on this image: its decode plus its share of the batch's inference. */
  ms: number;
  image?: Omit<DecodedImage, 'pixels'>;
}

/**
 * Turns images into unit vectors: decode (adapter) → tensor (core) → model (adapter) → pool and
 * normalise (core). The next batch is decoded while the current one runs through the model.
 */
export class Embedder {
  constructor(
    readonly manifest: ModelManifest,
    private readonly decoder: ImageDecoder,
    private readonly backend: InferenceBackend,
    private readonly batchSize: number
  ) {}

  get description(): string {
    return this.backend.description;
  }

  /** Embeds already-decoded pixels (model input size, RGB) in one model call. */
  async embedPixels(images: readonly Uint8Array[]): Promise<Float32Array[]> {
    if (images.length === 0) return [];
    const { data, dims } = buildInputBatch(images, this.manifest);
    // The batch tensor is built for this call only: hand it over rather than copy it.
    const output = await this.backend.run(data, dims, { transfer: true });
    return vectorsFromOutput(output.data, output.dims, this.manifest);
  }

  /** Embeds files or byte buffers; a bad input yields an `error` result and never stops the rest. */
  async embedMany(
    inputs: readonly (string | { name: string; bytes: Uint8Array })[],
    onResult?: (result: EmbedResult) => void
  ): Promise<EmbedResult[]> {
    const batches: (typeof inputs)[] = [];
    for (let i = 0; i < inputs.length; i += this.batchSize) {
      batches.push(inputs.slice(i, i + this.batchSize));
    }
    const results: EmbedResult[] = [];
    let next = batches[0] ? this.decodeBatch(batches[0]) : undefined;
    for (let b = 0; b < batches.length; b++) {
      const decoded = await next!;
      next = batches[b + 1] ? this.decodeBatch(batches[b + 1]!) : undefined;
      const good = decoded.filter((d) => d.pixels);
      const started = performance.now();
      const vectors = await this.embedPixels(good.map((d) => d.pixels!));
      const share = (performance.now() - started) / Math.max(1, good.length);
      let g = 0;
      for (const d of decoded) {
        const result: EmbedResult = d.pixels
          ? { input: d.input, vector: vectors[g++], ms: d.ms + share, image: d.image }
          : { input: d.input, error: d.error, ms: d.ms };
        results.push(result);
        onResult?.(result);
      }
    }
    return results;
  }

  async embedOne(input: string | Uint8Array): Promise<Float32Array> {
    const decoded = await this.decoder.decode(input, this.manifest);
    const [vector] = await this.embedPixels([decoded.pixels]);
    return vector!;
  }

  close(): Promise<void> {
    return this.backend.close();
  }

  private decodeBatch(batch: readonly (string | { name: string; bytes: Uint8Array })[]) {
    return Promise.all(
      batch.map(async (item) => {
        const input = typeof item === 'string' ? item : item.name;
        const started = performance.now();
        try {
          const { pixels, ...image } = await this.decoder.decode(
            typeof item === 'string' ? item : item.bytes,
            this.manifest
          );
          return { input, pixels, image, ms: performance.now() - started };
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          return {
            input,
            pixels: undefined,
            image: undefined,
            error: message,
            ms: performance.now() - started
          };
        }
      })
    );
  }
}
