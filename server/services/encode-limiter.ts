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
