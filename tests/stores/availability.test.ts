import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../server/errors';
import { isStoreUnavailable, retryWhileUnavailable } from '../../server/stores/availability';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), {
  code: 'ECONNREFUSED'
});

describe('store availability', () => {
  it('tells outages from other errors, also through causes and gRPC codes', () => {
    expect(isStoreUnavailable(refused)).toBe(true);
    expect(isStoreUnavailable(new Error('wrapped', { cause: refused }))).toBe(true);
    expect(isStoreUnavailable(Object.assign(new Error('x'), { code: 14 }))).toBe(true);
    const translated = new StoreUnavailableError('Milvus at 127.0.0.1:1 is unreachable: timeout');
    expect(isStoreUnavailable(translated)).toBe(true);
    expect(isStoreUnavailable(new Error('while searching', { cause: translated }))).toBe(true);
    // Words in a message are not an outage (a file may be called that).
    expect(isStoreUnavailable(new Error('Cannot read /p/unreachable UNAVAILABLE.jpg'))).toBe(false);
    expect(isStoreUnavailable(new Error('Duplicate entry'))).toBe(false);
    expect(isStoreUnavailable(Object.assign(new Error('dup'), { code: 'ER_DUP_ENTRY' }))).toBe(
      false
    );
  });

  it('waits through an outage, reports it, and resumes', async () => {
    let calls = 0;
    const waits: number[] = [];
    let resumed = 0;
    const result = await retryWhileUnavailable(
      async () => {
        calls++;
        if (calls < 3) throw refused;
        return 'ok';
      },
      { onWait: (_e, delay) => waits.push(delay), onResume: () => resumed++, maxDelayMs: 500 }
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(waits).toEqual([250, 500]);
    expect(resumed).toBe(1);
  });

  it('fails at once on other errors, and stops waiting when aborted', async () => {
    let calls = 0;
    await expect(
      retryWhileUnavailable(async () => {
        calls++;
        throw new Error('bad request');
      })
    ).rejects.toThrow('bad request');
    expect(calls).toBe(1);
    const abort = new AbortController();
    const pending = retryWhileUnavailable(
      async () => {
        throw refused;
      },
      { signal: abort.signal, onWait: () => abort.abort() }
    );
    await expect(pending).rejects.toBe(refused);
  });
});
