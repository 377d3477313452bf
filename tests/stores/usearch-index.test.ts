import { mkdtemp, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsearchVectorIndex } from '../../server/stores/usearch-index';
import type { VectorSource } from '../../server/stores/vector-source';
import {
  describeVectorIndexContract,
  entriesOf,
  idOf,
  seededRandom,
  unitVectors
} from './vector-index.contract';

/**
 * Stands in for the SQLite catalog (which has its own tests): every vector with the seq of its
 * last change, plus a log of removals.
 */
class MemorySource implements VectorSource {
  seq = 0;
  readonly rows = new Map<number, { seq: number; vector: Float32Array }>();
  readonly removals: { id: number; seq: number }[] = [];

  put(entries: readonly { id: number; vector: Float32Array }[]): void {
    for (const { id, vector } of entries) this.rows.set(id, { seq: ++this.seq, vector });
  }
  delete(ids: readonly number[]): void {
    for (const id of ids) {
      this.rows.delete(id);
      this.removals.push({ id, seq: ++this.seq });
    }
  }
  async latestSeq() {
    return this.seq;
  }
  async vectorsChangedSince(afterSeq: number, limit: number) {
    return [...this.rows]
      .map(([id, row]) => ({ id, ...row }))
      .filter((row) => row.seq > afterSeq)
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit);
  }
  async removedSince(afterSeq: number) {
    return this.removals.filter((r) => r.seq > afterSeq).map((r) => r.id);
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lookalike-usearch-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeVectorIndexContract('usearch', async (dimension) => {
  const index = await UsearchVectorIndex.open({
    path: join(dir, 'contract.usearch'),
    dimension,
    source: new MemorySource()
  });
  return { index, cleanup: () => index.close() };
});

describe('UsearchVectorIndex persistence', () => {
  const D = 16;
  // More than one 1000-row page, so paging is exercised.
  const N = 2500;
  let path: string;
  let source: MemorySource;
  let rebuilds: { reason: string; count: number }[];
  const open = (dimension = D, extra: { connectivity?: number } = {}) =>
    UsearchVectorIndex.open({
      path,
      dimension,
      source,
      ...extra,
      onRebuild: (info) => rebuilds.push(info)
    });
  const sidecar = async () => JSON.parse(await readFile(`${path}.json`, 'utf8'));

  beforeEach(() => {
    path = join(dir, 'sub', 'vectors.usearch');
    source = new MemorySource();
    source.put(entriesOf(unitVectors(N, D, 42)));
    rebuilds = [];
  });

  /** The index holds exactly the source's vectors: same count, each found as itself. */
  async function expectMatchesSource(index: UsearchVectorIndex, sample = 200): Promise<void> {
    expect(await index.count()).toBe(source.rows.size);
    const rows = [...source.rows];
    const rand = seededRandom(7);
    const picked =
      sample >= rows.length
        ? rows
        : Array.from({ length: sample }, () => rows[Math.floor(rand() * rows.length)]!);
    for (const [id, { vector }] of picked) {
      const [best] = await index.search(vector, 1);
      expect(best?.id).toBe(id);
      expect(best?.score).toBeCloseTo(1, 4);
    }
  }

  /** A first open that rebuilds from the source and saves, so the next open can load. */
  async function saved(): Promise<void> {
    const index = await open();
    expect(rebuilds).toEqual([{ reason: 'no saved index', count: N }]);
    await index.close();
    rebuilds = [];
  }

  it('builds from the source on first open, saves, and loads next time without a rebuild', async () => {
    const first = await open();
    expect(first.kind).toBe('usearch-hnsw');
    expect(rebuilds).toEqual([{ reason: 'no saved index', count: N }]);
    await expectMatchesSource(first);
    expect(await sidecar()).toMatchObject({
      format: 1,
      dimension: D,
      seq: N,
      count: N,
      connectivity: 16
    });
    const queries = unitVectors(20, D, 43);
    const before = await Promise.all(queries.map((q) => first.search(q, 10)));
    await first.flush();
    await first.close();
    await expect(first.count()).rejects.toThrow(/closed/);

    const second = await open();
    expect(rebuilds).toHaveLength(1);
    expect(await second.count()).toBe(N);
    expect(await Promise.all(queries.map((q) => second.search(q, 10)))).toEqual(before);
    await second.close();
  });

  it('catches up with changes made after the flush, without a rebuild', async () => {
    await saved();
    const added = entriesOf(unitVectors(30, D, 44), N);
    source.put(added);
    const changed = { id: idOf(5), vector: unitVectors(1, D, 45)[0]! };
    source.put([changed]);
    source.delete([idOf(9), idOf(10)]);

    const index = await open();
    expect(rebuilds).toEqual([]);
    expect(await index.count()).toBe(N + 30 - 2);
    await expectMatchesSource(index);
    for (const e of [...added, changed])
      expect((await index.search(e.vector, 1))[0]?.id).toBe(e.id);
    const ids = (await index.search(source.rows.get(idOf(11))!.vector, 50)).map((m) => m.id);
    expect(ids).not.toContain(idOf(9));
    expect(ids).not.toContain(idOf(10));
    // A small catch-up is replayed at every start rather than saved.
    expect((await sidecar()).seq).toBe(N);
    await index.close();
  });

  it('every vector is found by itself after a rebuild (multi-threaded adds orphan some)', async () => {
    // usearch#735: concurrent add() leaves nodes unreachable; the default of one thread avoids it.
    const index = await open();
    await expectMatchesSource(index, Infinity);
    await index.close();
  });

  it('saves after a large catch-up, so the next start does not replay it', async () => {
    await saved();
    source.put(entriesOf(unitVectors(1200, D, 46), N));
    const index = await open();
    expect(rebuilds).toEqual([]);
    expect(await sidecar()).toMatchObject({ seq: source.seq, count: N + 1200 });
    await expectMatchesSource(index);
    await index.close();
  });

  it.each([
    ['truncated', (p: string) => stat(p).then((s) => truncate(p, Math.floor(s.size / 2)))],
    ['emptied', (p: string) => truncate(p, 0)],
    [
      'overwritten with garbage of the same size',
      async (p: string) => {
        const rand = seededRandom(3);
        const size = (await stat(p)).size;
        await writeFile(
          p,
          Uint8Array.from({ length: size }, () => Math.floor(rand() * 256))
        );
      }
    ],
    [
      'flipped in one byte',
      async (p: string) => {
        const bytes = await readFile(p);
        bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
        await writeFile(p, bytes);
      }
    ]
  ])('rebuilds when the index file is %s', async (_, damage) => {
    await saved();
    await damage(path);
    const index = await open();
    expect(rebuilds).toEqual([{ reason: expect.stringMatching(/corrupt/), count: N }]);
    await expectMatchesSource(index);
    await index.close();
    // The rebuilt index was saved: the next start loads it.
    await (await open()).close();
    expect(rebuilds).toHaveLength(1);
  });

  it('rebuilds when the saved index is ahead of the source', async () => {
    await saved();
    // E.g. the catalog was restored from an older backup.
    source = new MemorySource();
    source.put(entriesOf(unitVectors(100, D, 47)));
    const index = await open();
    expect(rebuilds).toEqual([{ reason: expect.stringMatching(/ahead/), count: 100 }]);
    await expectMatchesSource(index);
    await index.close();
  });

  it('rebuilds when the dimension changed (another model)', async () => {
    await saved();
    source = new MemorySource();
    source.put(entriesOf(unitVectors(300, 24, 48)));
    const index = await open(24);
    expect(rebuilds).toEqual([{ reason: expect.stringMatching(/dimension/), count: 300 }]);
    expect(index.dimension).toBe(24);
    await expectMatchesSource(index);
    await index.close();
  });

  it('rebuilds when the connectivity changed', async () => {
    await saved();
    const index = await open(D, { connectivity: 8 });
    expect(rebuilds).toEqual([{ reason: expect.stringMatching(/connectivity/), count: N }]);
    await expectMatchesSource(index);
    await index.close();
  });

  it('rebuilds from the source when the index file or its sidecar is missing or unreadable', async () => {
    await saved();
    await unlink(path);
    await (await open()).close();
    expect(rebuilds).toEqual([{ reason: expect.stringMatching(/missing/), count: N }]);

    await writeFile(`${path}.json`, '{ not json');
    const index = await open();
    expect(rebuilds[1]).toEqual({ reason: expect.stringMatching(/sidecar/), count: N });
    await expectMatchesSource(index);
    await index.close();

    await unlink(`${path}.json`);
    await (await open()).close();
    expect(rebuilds[2]).toEqual({ reason: 'no saved index', count: N });
  });

  it('flush after clear persists the empty index', async () => {
    await saved();
    const index = await open();
    await index.clear();
    await index.flush();
    await index.close();
    const reopened = await open();
    expect(rebuilds).toEqual([]);
    expect(await reopened.count()).toBe(0);
    await reopened.close();
  });

  it('keeps the last vector when one batch repeats an id; ignores k ≤ 0', async () => {
    source = new MemorySource();
    const index = await open();
    const [a, b] = unitVectors(2, D, 49);
    await index.upsert([
      { id: 7, vector: a! },
      { id: 7, vector: b! }
    ]);
    expect(await index.count()).toBe(1);
    expect(await index.search(b!, 1)).toEqual([{ id: 7, score: expect.closeTo(1, 4) }]);
    expect(await index.search(b!, 0)).toEqual([]);
    await expect(index.upsert([{ id: -1, vector: a! }])).rejects.toThrow(/id/);
    await index.close();
  });
});
