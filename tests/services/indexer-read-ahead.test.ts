import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageDecoder } from '../../server/embedding/image-decoder';
import type { Runtime } from '../../server/runtime';
import { indexFolder, READ_AHEAD_BYTES } from '../../server/services/indexer';
import { testRuntime } from '../helpers/runtime';

const MiB = 1024 * 1024;

/** A sparse file of `size` bytes (no disk used) whose first byte makes its content unique. */
async function sparseFile(path: string, size: number, first: number) {
  const file = await open(path, 'w');
  try {
    await file.write(Buffer.from([first]), 0, 1, 0);
    await file.truncate(size);
  } finally {
    await file.close();
  }
}

/** The runtime's decoder, counting the file bytes read and not yet decoded (and the peak). */
function countingDecoder(inner: ImageDecoder) {
  const counts = { held: 0, peak: 0, reads: 0 };
  const decoder: ImageDecoder = {
    async read(path) {
      const bytes = await inner.read(path);
      counts.reads++;
      counts.held += bytes.length;
      counts.peak = Math.max(counts.peak, counts.held);
      return bytes;
    },
    async decode(input, manifest) {
      try {
        return await inner.decode(input, manifest);
      } finally {
        if (typeof input !== 'string') counts.held -= input.length;
      }
    }
  };
  return { decoder, counts };
}

describe('indexing large files', () => {
  let base: string;
  let runtime: Runtime;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'lookalike-read-ahead-'));
    await mkdir(join(base, 'big'));
    for (let i = 0; i < 4; i++) await sparseFile(join(base, 'big', `big-${i}.jpg`), 250 * MiB, i);
    ({ runtime, cleanup } = await testRuntime({ roots: [base] }));
  });
  afterAll(async () => {
    await cleanup();
    await rm(base, { recursive: true, force: true });
  });

  it('holds at most the read-ahead budget of file bytes, not a batch of whole files', async () => {
    const { decoder, counts } = countingDecoder(runtime.decoder);
    const completed = await indexFolder({
      root: join(base, 'big'),
      recursive: true,
      roots: runtime.roots,
      collection: runtime.collection,
      decoder,
      embedder: runtime.embedder,
      batchSize: 8
    });
    expect(completed).toBe(true);
    expect(counts.reads).toBe(4); // every file was read (and refused: not a picture)
    expect(counts.held).toBe(0);
    // One 250 MiB file at a time: the four of a batch read together would hold 1000 MiB.
    expect(counts.peak).toBe(250 * MiB);
    expect(counts.peak).toBeLessThanOrEqual(READ_AHEAD_BYTES);
  }, 60_000);
});
