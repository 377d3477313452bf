import type { SnapshotHit } from '#core/snapshot';
import type { StoredSnapshotMeta } from './snapshot-store';

/**
 * Messages between offline-index.svelte.ts and snapshot-search.worker.ts. A worker serves one
 * collection (`collection` names whose IndexedDB copy to use).
 */

export type SnapshotRequest =
  /**
   * A fresh download (transferred): check it decodes and was built by `modelId`, then store it in
   * IndexedDB in place of the old one. Not kept in memory: it is only searched offline.
   */
  | {
      id: number;
      type: 'store';
      collection: string;
      data: ArrayBuffer;
      modelId?: string;
      savedAt?: number;
    }
  /** Decode the collection's snapshot IndexedDB holds and keep it for searches. */
  | { id: number; type: 'load'; collection: string }
  | { id: number; type: 'search'; vector: Float32Array; topK: number };

export type SnapshotReply =
  | { id: number; ok: true; type: 'store' | 'load'; meta?: StoredSnapshotMeta }
  | { id: number; ok: true; type: 'search'; hits: SnapshotHit[] }
  | { id: number; ok: false; error: string };
