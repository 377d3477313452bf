import { describe, expect, it } from 'vitest';
import { BusyError } from '../../server/errors';
import { EncodeLimiter } from '../../server/services/encode-limiter';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('EncodeLimiter', () => {
  it('runs at most `concurrency` at once, queues up to `queue`, refuses the rest', async () => {
    const limiter = new EncodeLimiter({ concurrency: 2, queue: 1, retryAfterSeconds: 3 });
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const tasks = gates.map((gate, i) =>
      limiter.run(async () => {
        started.push(i);
        await gate.promise;
        return i;
      })
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect(limiter.stats).toEqual({ active: 2, waiting: 1 });

    const refused = limiter.run(async () => 'never');
    await expect(refused).rejects.toBeInstanceOf(BusyError);
    await expect(refused).rejects.toMatchObject({ status: 503, retryAfterSeconds: 3 });

    gates[1]!.resolve();
    expect(await tasks[1]).toBe(1);
    await tick();
    expect(started).toEqual([0, 1, 2]); // the waiting task took the freed slot
    expect(limiter.stats).toEqual({ active: 2, waiting: 0 });
    gates[0]!.resolve();
    gates[2]!.resolve();
    expect(await Promise.all(tasks)).toEqual([0, 1, 2]);
    expect(limiter.stats).toEqual({ active: 0, waiting: 0 });
  });

  it('frees the slot when a task fails', async () => {
    const limiter = new EncodeLimiter({ concurrency: 1, queue: 0 });
    await expect(limiter.run(() => Promise.reject(new Error('bad image')))).rejects.toThrow(
      'bad image'
    );
    expect(limiter.stats).toEqual({ active: 0, waiting: 0 });
    expect(await limiter.run(async () => 'ok')).toBe('ok');
  });

  it('serves waiters in arrival order', async () => {
    const limiter = new EncodeLimiter({ concurrency: 1, queue: 5 });
    const gate = deferred();
    const order: number[] = [];
    const first = limiter.run(() => gate.promise);
    const rest = [1, 2, 3].map((i) => limiter.run(async () => void order.push(i)));
    await tick();
    expect(order).toEqual([]);
    gate.resolve();
    await Promise.all([first, ...rest]);
    expect(order).toEqual([1, 2, 3]);
  });
});
