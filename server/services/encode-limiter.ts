import { BusyError } from '../errors';

export interface EncodeLimiterOptions {
  /** Encodes allowed at once (config.encodeConcurrency). */
  concurrency: number;
  /** Encodes allowed to wait for a slot (config.encodeQueue); beyond that, BusyError. */
  queue: number;
  /** What BusyError tells clients to wait before retrying. */
  retryAfterSeconds?: number;
}

/**
 * Bounds server-side encoding (decode + inference of uploaded pictures): at most `concurrency`
 * run at once and at most `queue` wait, in arrival order; anything more is refused at once with a
 * BusyError (503 + Retry-After) instead of piling up memory and latency.
 */
export class EncodeLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: EncodeLimiterOptions) {
    if (!(options.concurrency >= 1)) throw new Error('EncodeLimiter needs concurrency >= 1');
  }

  get stats(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.options.concurrency) {
      this.active++;
    } else if (this.waiting.length < this.options.queue) {
      // The releasing task hands its slot over directly, so `active` stays the same.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      throw new BusyError(
        `The server is busy encoding images (${this.active} running, ${this.waiting.length} ` +
          'waiting); try again in a moment',
        this.options.retryAfterSeconds ?? 1
      );
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export interface ByteBudgetOptions {
  /** Bytes that may be held at once. */
  capacity: number;
  /** Claims allowed to wait for room; beyond that, BusyError. */
  queue: number;
  retryAfterSeconds?: number;
}

/**
 * Bounds the bytes held at once (e.g. upload bodies being read and encoded): a claim waits, in
 * arrival order, until there is room for it, and is refused with a BusyError when `queue` claims
 * already wait. A claim larger than the capacity is served alone.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(private readonly options: ByteBudgetOptions) {
    if (!(options.capacity >= 1)) throw new Error('ByteBudget needs capacity >= 1');
  }

  get stats(): { used: number; waiting: number } {
    return { used: this.used, waiting: this.waiting.length };
  }

  /**
   * Claims `bytes`; resolves with the function that gives them back. `signal` withdraws a claim
   * still waiting (the client went away).
   */
  async claim(bytes: number, signal?: AbortSignal): Promise<() => void> {
    const amount = Math.min(Math.max(0, bytes), this.options.capacity);
    if (this.waiting.length === 0 && this.used + amount <= this.options.capacity) {
      this.used += amount;
    } else if (this.waiting.length < this.options.queue) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const waiter = {
          bytes: amount,
          grant: () => {
            signal?.removeEventListener('abort', withdraw);
            resolve();
          }
        };
        const withdraw = () => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          this.grantWaiting(); // the next claim may fit now
          reject(signal!.reason as Error);
        };
        signal?.addEventListener('abort', withdraw, { once: true });
        this.waiting.push(waiter);
      });
    } else {
      throw new BusyError(
        `The server is busy reading images (${this.waiting.length} waiting); try again in a moment`,
        this.options.retryAfterSeconds ?? 1
      );
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used -= amount;
      this.grantWaiting();
    };
  }

  private grantWaiting() {
    for (let next = this.waiting[0]; next; next = this.waiting[0]) {
      if (this.used + next.bytes > this.options.capacity) return;
      this.waiting.shift();
      this.used += next.bytes;
      next.grant();
    }
  }
}
