import { describe, expect, it, vi } from 'vitest';
import type { SearchHit } from '$lib/api/types';
import type { SearchOutcome } from './search-service';
import { SearchSession, type EncodedQuery, type SearchDeps } from './search.svelte';

const hit = (id: number): SearchHit => ({
  id,
  path: `/p/${id}.jpg`,
  score: 1 - id / 100,
  width: 10,
  height: 10,
  imageUrl: `/api/images/${id}`,
  thumbUrl: `/api/images/${id}/thumb`
});

function fakeDeps() {
  const encode = vi.fn(async (): Promise<EncodedQuery> => ({
    vector: new Float32Array([1, 0]),
    backend: 'wasm',
    ms: 12
  }));
  const search = vi.fn(async (_vector: Float32Array, topK: number): Promise<SearchOutcome> => ({
    hits: Array.from({ length: topK }, (_, i) => hit(i)),
    source: { kind: 'server' },
    tookMs: 2
  }));
  const deps: SearchDeps = { encode, search, describe: (e) => `described: ${String(e)}` };
  return { deps, encode, search };
}

// jsdom has no object URLs.
URL.createObjectURL ??= () => 'blob:fake';
URL.revokeObjectURL ??= () => {};

describe('SearchSession', () => {
  it('encodes a new picture once, then re-searches with the same vector when top-K changes', async () => {
    const { deps, encode, search } = fakeDeps();
    const session = new SearchSession(deps);
    await session.setQuery(new Blob(['x']), 'a.jpg');
    expect(session.phase).toBe('done');
    expect(session.hits).toHaveLength(10);
    expect(session.encoded).toMatchObject({ backend: 'wasm', ms: 12 });

    await session.setTopK(3);
    expect(session.hits).toHaveLength(3);
    expect(encode).toHaveBeenCalledTimes(1);
    expect(search).toHaveBeenCalledTimes(2);
    expect(search.mock.calls[1]![0]).toBe(search.mock.calls[0]![0]);
  });

  it('re-encodes with the crop region and forgets it for a new picture', async () => {
    const { deps, encode } = fakeDeps();
    const session = new SearchSession(deps);
    await session.setQuery(new Blob(['x']), 'a.jpg');
    const region = { x: 1, y: 2, width: 3, height: 4 };
    await session.setRegion(region);
    expect(encode).toHaveBeenLastCalledWith(expect.any(Blob), region);
    await session.setQuery(new Blob(['y']), 'b.jpg');
    expect(session.region).toBeUndefined();
    expect(encode).toHaveBeenLastCalledWith(expect.any(Blob), undefined);
  });

  it('drops the answer of a superseded search', async () => {
    const { deps, search } = fakeDeps();
    let release!: () => void;
    search.mockImplementationOnce(
      (_v, topK) =>
        new Promise((resolve) => {
          release = () =>
            resolve({
              hits: Array.from({ length: topK }, (_, i) => hit(i)),
              source: { kind: 'server' },
              tookMs: 1
            });
        })
    );
    const session = new SearchSession(deps);
    const slow = session.setQuery(new Blob(['x']), 'a.jpg');
    await vi.waitFor(() => expect(search).toHaveBeenCalledTimes(1));
    await session.setTopK(2);
    release();
    await slow;
    expect(session.hits).toHaveLength(2);
  });

  it('shows a failure as a sentence and no stale results', async () => {
    const { deps, encode } = fakeDeps();
    const session = new SearchSession(deps);
    await session.setQuery(new Blob(['x']), 'a.jpg');
    encode.mockRejectedValueOnce(new Error('boom'));
    await session.setQuery(new Blob(['bad']), 'b.txt');
    expect(session.phase).toBe('failed');
    expect(session.error).toBe('described: Error: boom');
    expect(session.hits).toEqual([]);
  });
});
