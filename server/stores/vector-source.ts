/**
 * The source of truth an in-process index is rebuilt or caught up from: the catalog, which keeps
 * every vector and a monotonic change sequence (`seq`) bumped by every insert, update and removal.
 */
export interface VectorSource {
  /** The highest `seq` committed so far (0 for an empty collection). */
  latestSeq(): Promise<number>;
  /** Vectors inserted or changed after `afterSeq`, in increasing seq order, at most `limit`. */
  vectorsChangedSince(
    afterSeq: number,
    limit: number
  ): Promise<{ id: number; seq: number; vector: Float32Array }[]>;
  /** Ids removed after `afterSeq` (an id is never reused, so replaying removals is safe). */
  removedSince(afterSeq: number): Promise<number[]>;
}
