/**
 * Reads a response body to the end, reporting bytes as they arrive (for progress bars on the
 * model and snapshot downloads). `total` is left out when unknown: a compressed response's
 * Content-Length counts compressed bytes, not what the reader yields.
 */
export async function readWithProgress(
  response: Response,
  onProgress: (loaded: number, total: number | undefined) => void
): Promise<ArrayBuffer> {
  if (!response.body) throw new Error('The response has no body');
  const length = Number(response.headers.get('content-length'));
  const total =
    !response.headers.get('content-encoding') && Number.isFinite(length) && length > 0
      ? length
      : undefined;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress(loaded, total);
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress(loaded, total);
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes.buffer;
}
