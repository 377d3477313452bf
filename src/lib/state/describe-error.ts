import { ApiRequestError, ServerUnreachableError } from '$lib/api/client';
import { BROWSER_LIMITS, EncodeError } from '$lib/encoder';
import { NoOfflineCopyError } from './search-service';

const mib = (bytes: number) => Math.round(bytes / (1024 * 1024));
const megapixels = (pixels: number) => Math.round(pixels / 1_000_000);

/** A failed encode or search as a sentence for the page (never only in the console). */
export function describeSearchError(error: unknown): string {
  if (error instanceof EncodeError) {
    switch (error.code) {
      case 'not-an-image':
        // The encoder's own wording repeats this; the formats are the useful part.
        return (
          'That file is not a picture Lookalike can read. ' +
          'Try a JPEG, PNG, WebP, GIF or AVIF picture.'
        );
      case 'too-large':
        return (
          `That picture is too large to search with (the limit is ${mib(BROWSER_LIMITS.maxFileBytes)} MiB ` +
          `and ${megapixels(BROWSER_LIMITS.maxPixels)} megapixels). ${error.message}`
        );
      case 'bad-geometry':
        // Too long and thin, or a crop too small: the same limits as the server's indexer.
        return `That picture (or the cropped part of it) cannot be searched: ${error.message}`;
      case 'model':
        return `The model could not encode the picture: ${error.message}`;
    }
  }
  if (error instanceof NoOfflineCopyError || error instanceof ServerUnreachableError) {
    return error.message;
  }
  if (error instanceof ApiRequestError) return `The server refused the search: ${error.message}`;
  return `Search failed: ${error instanceof Error ? error.message : String(error)}`;
}
