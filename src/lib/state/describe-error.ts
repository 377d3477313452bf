import { ApiRequestError, ServerUnreachableError } from '$lib/api/client';
import { BROWSER_LIMITS, EncodeError, formatMebibytes, formatMegapixels } from '$lib/encoder';
import { ModelUnavailableError } from './encoder.svelte';
import { NoOfflineCopyError } from './search-service';

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
          `That picture is too large to search with in this browser (the limit is ` +
          `${formatMebibytes(BROWSER_LIMITS.maxFileBytes)} and ` +
          `${formatMegapixels(BROWSER_LIMITS.maxPixels)}). ${error.message}`
        );
      case 'bad-geometry':
        // Too long and thin, or a crop too small: the same limits as the server's indexer.
        return `That picture (or the cropped part of it) cannot be searched: ${error.message}`;
      case 'model':
        return `The model could not encode the picture: ${error.message}`;
      case 'superseded':
        return 'A newer picture replaced this one.';
    }
  }
  if (
    error instanceof NoOfflineCopyError ||
    error instanceof ServerUnreachableError ||
    error instanceof ModelUnavailableError
  ) {
    return error.message;
  }
  if (error instanceof ApiRequestError) return `The server refused the search: ${error.message}`;
  return `Search failed: ${error instanceof Error ? error.message : String(error)}`;
}
