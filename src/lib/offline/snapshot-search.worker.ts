/// <reference lib="webworker" />
import { messageOf } from '$lib/api/collection';
import { decodeSnapshot, searchSnapshot, type Snapshot } from '#core/snapshot';
import type { SnapshotReply, SnapshotRequest } from './snapshot-protocol';
import { readSnapshotData, readSnapshotMeta, writeSnapshot } from './snapshot-store';
import { MAX_THUMBS } from './thumb-cache';

/**
 * Checks and stores downloaded snapshots, and searches the one kept on this device, off the main
 * thread: a 20k-picture snapshot is tens of MB and a search is one pass over all of it. A
 * download is decoded before it is stored, so a truncated or foreign file never replaces a good
 * saved copy. Only a `load` keeps a snapshot decoded (views over the bytes, no copy) for searches.
 */

const scope = self as unknown as DedicatedWorkerGlobalScope;
let snapshot: Snapshot | undefined;

async function store(request: Extract<SnapshotRequest, { type: 'store' }>) {
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
    bytes: request.data.byteLength,
    thumbIds: fresh.items.slice(0, MAX_THUMBS).map((item) => item.id)
  };
  await writeSnapshot(request.collection, request.data, meta);
  // A search running beside this store (the worker could not be ended) must see the new copy.
  snapshot = fresh;
  return meta;
}

async function load(collection: string) {
  const data = await readSnapshotData(collection);
  snapshot = data ? decodeSnapshot(data) : undefined;
  return readSnapshotMeta(collection);
}

async function handle(request: SnapshotRequest): Promise<SnapshotReply> {
  switch (request.type) {
    case 'store':
      return { id: request.id, ok: true, type: 'store', meta: await store(request) };
    case 'load':
      return { id: request.id, ok: true, type: 'load', meta: await load(request.collection) };
    case 'search': {
      if (!snapshot) throw new Error('No saved copy of the collection on this device');
      const hits = searchSnapshot(snapshot, request.vector, request.topK);
      return { id: request.id, ok: true, type: 'search', hits };
    }
  }
}

scope.onmessage = async (event: MessageEvent<SnapshotRequest>) => {
  const { id } = event.data;
  try {
    scope.postMessage(await handle(event.data));
  } catch (error) {
    scope.postMessage({ id, ok: false, error: messageOf(error) } satisfies SnapshotReply);
  }
};
