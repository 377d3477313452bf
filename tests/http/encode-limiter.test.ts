import { describe, expect, it } from 'vitest';
import { BusyError } from '../../server/errors';
import { ByteBudget, EncodeLimiter } from '../../server/services/encode-limiter';

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

describe('ByteBudget', () => {
  it('holds at most `capacity` bytes, queues claims in order up to `queue`, refuses the rest', async () => {
    const budget = new ByteBudget({ capacity: 100, queue: 2, retryAfterSeconds: 2 });
    const a = await budget.claim(60);
    const b = await budget.claim(40);
    const granted: string[] = [];
    const c = budget.claim(50).then((give) => (granted.push('c'), give));
    const d = budget.claim(10).then((give) => (granted.push('d'), give));
    await tick();
    expect(budget.stats).toEqual({ used: 100, waiting: 2 });
    await expect(budget.claim(1)).rejects.toMatchObject({ status: 503, retryAfterSeconds: 2 });
    b(); // 40 free: not enough for c (50), and d waits behind c
    await tick();
    expect(granted).toEqual([]);
    a();
    a(); // giving back twice counts once
    await tick();
    expect(granted).toEqual(['c', 'd']);
    expect(budget.stats).toEqual({ used: 60, waiting: 0 });
    (await c)();
    (await d)();
    expect(budget.stats).toEqual({ used: 0, waiting: 0 });
  });

  it('serves a claim over the capacity alone, and withdraws a claim whose client left', async () => {
    const budget = new ByteBudget({ capacity: 100, queue: 5 });
    const huge = await budget.claim(1000);
    expect(budget.stats.used).toBe(100);
    const left = new AbortController();
    const withdrawn = budget.claim(10, left.signal);
    const next = budget.claim(10);
    left.abort(new Error('client went away'));
    await expect(withdrawn).rejects.toThrow('client went away');
    expect(budget.stats.waiting).toBe(1);
    huge();
    (await next)();
    expect(budget.stats).toEqual({ used: 0, waiting: 0 });
  });
});
