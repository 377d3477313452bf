import { describe, expect, it, vi } from 'vitest';
import type { SearchHit } from '$lib/api/types';
import type { SearchOutcome } from './search-service';
import { SearchSession, type EncodedQuery, type SearchDeps } from './search.svelte';
import type { ServerEncodeReason } from './server-encode';

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
  // By default no failure goes to the server's encoder.
  const fallback = vi.fn(async (): Promise<ServerEncodeReason | undefined> => undefined);
  const searchImage = vi.fn(async (_blob: Blob, topK: number): Promise<SearchOutcome> => ({
    hits: Array.from({ length: topK }, (_, i) => hit(50 + i)),
    source: { kind: 'server' },
    tookMs: 40
  }));
  const deps: SearchDeps = {
    encode,
    search,
    fallback,
    searchImage,
    describe: (e) => `described: ${String(e)}`
  };
  return { deps, encode, search, fallback, searchImage };
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

describe('SearchSession with an encode under way', () => {
  function slowEncode() {
    const { deps, encode, search } = fakeDeps();
    const releases: (() => void)[] = [];
    encode.mockImplementation(
      () =>
        new Promise<EncodedQuery>((resolve) =>
          releases.push(() => resolve({ vector: new Float32Array([1, 0]), backend: 'wasm', ms: 5 }))
        )
    );
    return { deps, encode, search, releases };
  }

  it('reuses the encode of the same picture when top-K changes meanwhile', async () => {
    const { deps, encode, search, releases } = slowEncode();
    const session = new SearchSession(deps);
    const first = session.setQuery(new Blob(['x']), 'a.jpg');
    expect(session.phase).toBe('encoding');
    const second = session.setTopK(3);
    expect(encode).toHaveBeenCalledTimes(1);
    releases[0]!();
    await Promise.all([first, second]);
    expect(encode).toHaveBeenCalledTimes(1);
    // Only the newest run searches, with the new top-K.
    expect(search).toHaveBeenCalledTimes(1);
    expect(search.mock.calls[0]![1]).toBe(3);
    expect(session.hits).toHaveLength(3);
  });

  it('encodes again for another crop or picture, and only the newest one shows', async () => {
    const { deps, encode, releases } = slowEncode();
    const session = new SearchSession(deps);
    const a = session.setQuery(new Blob(['a']), 'a.jpg');
    const b = session.setQuery(new Blob(['b']), 'b.jpg');
    const c = session.setRegion({ x: 0, y: 0, width: 5, height: 5 });
    const again = session.setRegion({ x: 0, y: 0, width: 5, height: 5 });
    expect(encode).toHaveBeenCalledTimes(3);
    for (const release of releases) release();
    await Promise.all([a, b, c, again]);
    expect(session.query?.name).toBe('b.jpg');
    expect(session.phase).toBe('done');
  });

  it('ignores the rejection of a superseded encode', async () => {
    const { deps, encode } = fakeDeps();
    let rejectFirst!: (error: Error) => void;
    encode.mockImplementationOnce(() => new Promise((_, reject) => (rejectFirst = reject)));
    const session = new SearchSession(deps);
    const first = session.setQuery(new Blob(['a']), 'a.jpg');
    await session.setQuery(new Blob(['b']), 'b.jpg');
    rejectFirst(new Error('superseded'));
    await first;
    expect(session.phase).toBe('done');
    expect(session.error).toBeUndefined();
  });

  describe('pictures the browser cannot encode', () => {
    const TIFF: ServerEncodeReason = { kind: 'unreadable', format: 'TIFF' };

    it('searches with the picture on the server when the fallback says so, for every top-K', async () => {
      const { deps, encode, search, fallback, searchImage } = fakeDeps();
      const failure = new Error('cannot decode');
      encode.mockRejectedValue(failure);
      fallback.mockResolvedValue(TIFF);
      const session = new SearchSession(deps);
      const tiff = new Blob(['II*']);
      await session.setQuery(tiff, 'scan.tiff');
      expect(fallback).toHaveBeenCalledWith(failure, tiff);
      expect(session.phase).toBe('done');
      expect(session.serverEncode).toEqual(TIFF);
      expect(session.encoded).toBeUndefined();
      expect(session.hits[0]!.id).toBe(50);
      expect(searchImage).toHaveBeenLastCalledWith(tiff, 10, TIFF);

      // No vector here: a new top-K, a refresh and another collection send the picture again.
      await session.setTopK(3);
      expect(session.hits).toHaveLength(3);
      await session.refresh();
      await session.reencode();
      expect(searchImage).toHaveBeenCalledTimes(4);
      expect(encode).toHaveBeenCalledTimes(1);
      expect(search).not.toHaveBeenCalled();

      // No crop for it: the server encodes the whole picture.
      await session.setRegion({ x: 0, y: 0, width: 1, height: 1 });
      expect(session.region).toBeUndefined();
      expect(encode).toHaveBeenCalledTimes(1);

      // The next picture the browser can read is encoded here again.
      encode.mockReset();
      encode.mockResolvedValue({ vector: new Float32Array([1, 0]), backend: 'wasm', ms: 3 });
      await session.setQuery(new Blob(['jpeg']), 'b.jpg');
      expect(session.serverEncode).toBeUndefined();
      expect(search).toHaveBeenCalledTimes(1);
    });

    it('keeps the failure when the fallback declines, and says why when the server is gone', async () => {
      const { deps, encode, fallback, searchImage } = fakeDeps();
      encode.mockRejectedValue(new Error('not a picture'));
      const session = new SearchSession(deps);
      await session.setQuery(new Blob(['text']), 'notes.txt');
      expect(session.phase).toBe('failed');
      expect(session.error).toBe('described: Error: not a picture');
      expect(searchImage).not.toHaveBeenCalled();

      fallback.mockResolvedValue(TIFF);
      searchImage.mockRejectedValueOnce(new Error('unreachable'));
      await session.setQuery(new Blob(['II*']), 'scan.tiff');
      expect(session.phase).toBe('failed');
      expect(session.error).toBe('described: Error: unreachable');
      expect(session.hits).toEqual([]);
      // The server back: refresh sends the picture again.
      await session.refresh();
      expect(session.phase).toBe('done');
    });
  });
});

describe('SearchSession: the picture searched with among the results', () => {
  const withHash = (h: SearchHit, contentHash: string): SearchHit => ({ ...h, contentHash });
  const sha256 = async (text: string) =>
    [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');

  it('marks the hit with the very bytes searched with, by SHA-256, and no other', async () => {
    const { deps, search, searchImage, encode, fallback } = fakeDeps();
    const ownHash = await sha256('the query bytes');
    search.mockImplementation(async () => ({
      hits: [withHash(hit(1), 'f'.repeat(64)), withHash(hit(2), ownHash), hit(3)],
      source: { kind: 'server' },
      tookMs: 1
    }));
    // jsdom's Blob cannot be read as bytes: the hash is given here (the default, Web Crypto, is
    // exercised in real Chromium by tests/browser/result-paths.test.ts).
    const hash = vi.fn(async (blob: Blob) => (blob.size === 15 ? ownHash : await sha256('other')));
    const session = new SearchSession({ ...deps, hash });
    await session.setQuery(new Blob(['the query bytes']), 'q.jpg');
    expect(session.hits.map((h) => h.isQuery ?? false)).toEqual([false, true, false]);

    // The server's encoder answers with the same marking.
    searchImage.mockImplementation(async () => ({
      hits: [withHash(hit(2), ownHash)],
      source: { kind: 'server' },
      tookMs: 1
    }));
    encode.mockRejectedValueOnce(new Error('cannot decode'));
    fallback.mockResolvedValueOnce({ kind: 'unreadable', format: 'TIFF' });
    await session.setQuery(new Blob(['the query bytes']), 'q.tiff');
    expect(session.serverEncode).toBeDefined();
    expect(session.hits.map((h) => h.isQuery)).toEqual([true]);

    // Another picture: the old marking does not carry over.
    await session.setQuery(new Blob(['other bytes']), 'r.jpg');
    expect(session.hits.map((h) => h.isQuery ?? false)).toEqual([false, false, false]);
  });

  it('marks nothing when the browser cannot hash (no crypto.subtle on plain HTTP)', async () => {
    const { deps, search } = fakeDeps();
    search.mockImplementation(async () => ({
      hits: [withHash(hit(2), await sha256('x'))],
      source: { kind: 'server' },
      tookMs: 1
    }));
    const session = new SearchSession({ ...deps, hash: async () => undefined });
    await session.setQuery(new Blob(['x']), 'q.jpg');
    expect(session.phase).toBe('done');
    expect(session.hits[0]!.isQuery ?? false).toBe(false);
  });
});
