import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  connection,
  STARTING_POLL_MS,
  type Health,
  type StartingHealth
} from './connection.svelte';

const api = vi.hoisted(() => ({ getJson: vi.fn() }));
vi.mock('$lib/api/client', () => api);

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
  model: { id: 'resnet50', name: 'ResNet-50', dimension: 2048, synthetic: false },
  count: 0
};

afterEach(() => {
  vi.useRealTimers();
  api.getJson.mockReset();
});

describe('connection while the server starts', () => {
  it('keeps the starting report apart from health, asks again within a second, then clears it', async () => {
    vi.useFakeTimers();
    api.getJson.mockResolvedValueOnce(starting).mockResolvedValueOnce(ready);
    await connection.check();
    expect(connection.online).toBe(true);
    expect(connection.starting).toEqual(starting);
    expect(connection.health).toBeUndefined();

    await vi.advanceTimersByTimeAsync(STARTING_POLL_MS);
    expect(api.getJson).toHaveBeenCalledTimes(2);
    expect(connection.starting).toBeUndefined();
    expect(connection.health).toEqual(ready);

    // Started: back to the normal pace.
    await vi.advanceTimersByTimeAsync(5 * STARTING_POLL_MS);
    expect(api.getJson).toHaveBeenCalledTimes(2);
  });
});
