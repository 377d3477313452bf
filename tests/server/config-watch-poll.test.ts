import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config';

const load = (env: Record<string, string>) => loadConfig({}, env);

/** A poll interval is a full walk of every watched folder: a few milliseconds would busy the disk. */
describe('LOOKALIKE_WATCH_POLL_MS', () => {
  it('accepts 0 (file-system events) and 1000 ms or more', () => {
    expect(load({ LOOKALIKE_WATCH_POLL_MS: '0' }).watchPollMs).toBe(0);
    expect(load({ LOOKALIKE_WATCH_POLL_MS: '1000' }).watchPollMs).toBe(1000);
    expect(load({ LOOKALIKE_WATCH_POLL_MS: '60000' }).watchPollMs).toBe(60_000);
  });

  it.each(['5', '1', '999', '-1'])('refuses %s with a one-line error naming the range', (value) => {
    const attempt = () => load({ LOOKALIKE_WATCH_POLL_MS: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/LOOKALIKE_WATCH_POLL_MS/);
    expect(attempt).toThrow(/0 \(file-system events\) or at least 1000/);
    let message = '';
    try {
      attempt();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.trim().split('\n')).toHaveLength(1);
  });
});
