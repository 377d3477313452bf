/** A vector and the catalog id it belongs to. */
export interface VectorEntry {
  id: number;
  vector: Float32Array;
}

export interface VectorMatch {
  id: number;
  /** Cosine similarity (vectors are unit length, so this is the inner product). */
  score: number;
}

/**
 * Nearest-neighbour search over unit vectors keyed by catalog id. Implementations: an in-process
 * HNSW index (embedded default) and Milvus (scale-out). Upserts are idempotent by id.
 */
export interface VectorIndex {
  /** For /api/health and logs, e.g. "usearch-hnsw". */
  readonly kind: string;
  readonly dimension: number;
  upsert(entries: readonly VectorEntry[]): Promise<void>;
  remove(ids: readonly number[]): Promise<void>;
  /** Best first; at most `k` matches. */
  search(query: Float32Array, k: number): Promise<VectorMatch[]>;
  count(): Promise<number>;
  /** Removes every vector; the index stays usable. */
  clear(): Promise<void>;
  /** Makes earlier writes durable and searchable (Milvus flush; embedded: save its snapshot). */
  flush(): Promise<void>;
  close(): Promise<void>;
  /**
   * Closes the index and deletes what this server alone keeps of it (an index file), for a
   * collection another server deleted. Shared vectors (a Milvus collection) are left alone: the
   * server that deleted the collection dropped them, and a name may be in use again since.
   * Absent where the index keeps nothing of its own.
   */
  discardLocal?(): Promise<void>;
  /** Whether the store answers now (for /api/health); in-process indexes need not implement it. */
  ping?(): Promise<boolean>;
  /**
   * Ids in ascending order after `afterId`, for reconciliation against the catalog. Only stores
   * that are not rebuilt from the catalog (Milvus) need it.
   */
  listIds?(afterId: number, limit: number): Promise<number[]>;
}
