import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  connection,
  STARTING_POLL_MS,
  type Health,
  type StartingHealth
} from './connection.svelte';

const health = vi.hoisted(() => vi.fn());
vi.mock('$lib/api/client', async (importOriginal) => ({
  ...(await importOriginal<typeof import('$lib/api/client')>()),
  api: { GET: health }
}));

const starting: StartingHealth = {
  status: 'starting',
  model: {
    id: 'resnet50',
    name: 'ResNet-50',
    downloading: { receivedBytes: 10, totalBytes: 100 }
  }
};
const ready: Health = {
  status: 'ok',
  model: { id: 'resnet50', name: 'ResNet-50', dimension: 2048, synthetic: false, source: 'cache' },
  stores: {
    catalog: 'sqlite',
    vectors: 'usearch-hnsw',
    reachable: { catalog: true, vectors: true }
  },
  count: 0
};
/** openapi-fetch's result of a 200 answer. */
const answer = (data: Health | StartingHealth) => ({ data, response: new Response(null) });

afterEach(() => {
  vi.useRealTimers();
  health.mockReset();
});

describe('connection while the server starts', () => {
  it('keeps the starting report apart from health, asks again within a second, then clears it', async () => {
    vi.useFakeTimers();
    health.mockResolvedValueOnce(answer(starting)).mockResolvedValueOnce(answer(ready));
    await connection.check();
    expect(connection.online).toBe(true);
    expect(connection.starting).toEqual(starting);
    expect(connection.health).toBeUndefined();

    await vi.advanceTimersByTimeAsync(STARTING_POLL_MS);
    expect(health).toHaveBeenCalledTimes(2);
    expect(connection.starting).toBeUndefined();
    expect(connection.health).toEqual(ready);

    // Started: back to the normal pace.
    await vi.advanceTimersByTimeAsync(5 * STARTING_POLL_MS);
    expect(health).toHaveBeenCalledTimes(2);
  });
});
