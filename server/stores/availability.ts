import { StoreUnavailableError } from '../errors';

/**
 * Telling "the store is down" (wait and retry) from "the request is wrong" (fail). Each adapter
 * translates its outages into StoreUnavailableError at its edge (MySQL: explain(), Milvus:
 * unreachable()/notReady()); the network-level codes of mysql2, undici and gRPC are kept for an
 * error that reaches here untranslated. Messages are not read: a decoder error quoting a file
 * named `unreachable.jpg` is not an outage.
 */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR'
]);

export function isStoreUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    if (e instanceof StoreUnavailableError) return true;
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    // gRPC status 14 = UNAVAILABLE, 4 = DEADLINE_EXCEEDED
    if (code === 14 || code === 4) return true;
    e = cause;
  }
  return false;
}

/**
 * Runs `operation`, and while it fails because a store is unreachable, waits with exponential
 * backoff (up to `maxDelayMs`) and tries again — forever, or until `signal` aborts. `onWait` hears
 * each failure (to report "paused"), `onResume` the first success after one.
 */
export async function retryWhileUnavailable<T>(
  operation: () => Promise<T>,
  options: {
    signal?: AbortSignal;
    maxDelayMs?: number;
    attempts?: number;
    onWait?: (error: unknown, delayMs: number) => void;
    onResume?: () => void;
  } = {}
): Promise<T> {
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await operation();
      if (attempt > 1) options.onResume?.();
      return result;
    } catch (error) {
      const exhausted = options.attempts !== undefined && attempt >= options.attempts;
      if (!isStoreUnavailable(error) || options.signal?.aborted || exhausted) throw error;
      options.onWait?.(error, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, options.maxDelayMs ?? 10_000);
    }
  }
}
