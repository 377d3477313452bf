import type { SnapshotHit } from '$lib/core/snapshot';
import type { StoredSnapshotMeta } from './snapshot-store';

/** Messages between offline-index.svelte.ts and snapshot-search.worker.ts. */

export type SnapshotRequest =
  /**
   * Decode a snapshot and keep it for searches. With `data` (a fresh download, transferred): check
   * it decodes and was built by `modelId`, then store it in IndexedDB in place of the old one.
   * Without: decode the one IndexedDB holds.
   */
  | { id: number; type: 'load'; data?: ArrayBuffer; modelId?: string; savedAt?: number }
  | { id: number; type: 'search'; vector: Float32Array; topK: number };

export type SnapshotReply =
  | { id: number; ok: true; type: 'load'; meta?: StoredSnapshotMeta }
  | { id: number; ok: true; type: 'search'; hits: SnapshotHit[]; ms: number }
  | { id: number; ok: false; error: string };
