import type { FileHandle } from 'node:fs/promises';
import type { ModelManifest } from '#core/model-manifest';

/** Pixels ready for `writeInputTensor`: 8-bit sRGB, interleaved RGB, at the model's input size. */
export interface DecodedImage {
  pixels: Uint8Array;
  /** Size of the picture as shown (after EXIF orientation), before resizing. */
  width: number;
  height: number;
  format: string;
  fileBytes: number;
}

export type RejectionReason =
  | 'file-too-large'
  | 'too-many-pixels'
  | 'bad-geometry'
  | 'unsupported-format'
  | 'corrupt'
  | 'unreadable'
  | 'empty';

/** An input the decoder refuses; `reason` lets callers count and report it without parsing text. */
export class ImageRejectedError extends Error {
  constructor(
    readonly reason: RejectionReason,
    message: string
  ) {
    super(message);
    this.name = 'ImageRejectedError';
  }
}

export interface DecoderLimits {
  maxPixels: number;
  maxFileBytes: number;
}

/** Turns a file or its bytes into the model's input pixels, exactly as the manifest prescribes. */
export interface ImageDecoder {
  /**
   * Reads a file within the size limit; failures are ImageRejectedError (`unreadable`, …). An
   * open handle (one the roots check opened) is read as it is, so nothing swapped in between is.
   */
  read(file: string | FileHandle): Promise<Uint8Array>;
  decode(
    input: string | Uint8Array,
    manifest: Pick<ModelManifest, 'input' | 'preprocess'>
  ): Promise<DecodedImage>;
}
