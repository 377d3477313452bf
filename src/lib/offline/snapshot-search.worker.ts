/// <reference lib="webworker" />
import { decodeSnapshot, searchSnapshot, type Snapshot } from '$lib/core/snapshot';
import type { SnapshotReply, SnapshotRequest } from './snapshot-protocol';
import { readSnapshotData, readSnapshotMeta, writeSnapshot } from './snapshot-store';

/**
 * Searches the snapshot kept on this device, off the main thread: a 20k-picture snapshot is tens
 * of MB and a search is one pass over all of it. A fresh download is decoded here before it is
 * stored, so a truncated or foreign file never replaces a good saved copy. The decoded snapshot
 * (views over the bytes, no copy) is kept until the next load.
 */

const scope = self as unknown as DedicatedWorkerGlobalScope;
let snapshot: Snapshot | undefined;

async function load(request: Extract<SnapshotRequest, { type: 'load' }>) {
  if (!request.data) {
    const data = await readSnapshotData();
    snapshot = data ? decodeSnapshot(data) : undefined;
    return readSnapshotMeta();
  }
  const fresh = decodeSnapshot(request.data);
  if (request.modelId !== undefined && fresh.modelId !== request.modelId) {
    throw new Error(
      `The server's snapshot was built with model ${fresh.modelId}, not ${request.modelId}; it was not saved`
    );
  }
  const meta = {
    version: fresh.version,
    savedAt: request.savedAt ?? Date.now(),
    count: fresh.count,
    modelId: fresh.modelId,
    bytes: request.data.byteLength
  };
  await writeSnapshot(request.data, meta);
  snapshot = fresh;
  return meta;
}

async function handle(request: SnapshotRequest): Promise<SnapshotReply> {
  if (request.type === 'load') {
    return { id: request.id, ok: true, type: 'load', meta: await load(request) };
  }
  if (!snapshot) throw new Error('No saved copy of the collection on this device');
  const started = performance.now();
  const hits = searchSnapshot(snapshot, request.vector, request.topK);
  return { id: request.id, ok: true, type: 'search', hits, ms: performance.now() - started };
}

scope.onmessage = async (event: MessageEvent<SnapshotRequest>) => {
  const { id } = event.data;
  try {
    scope.postMessage(await handle(event.data));
  } catch (error) {
    scope.postMessage({
      id,
      ok: false,
      error: error instanceof Error ? error.message : String(error)
    } satisfies SnapshotReply);
  }
};
