import { Writable } from 'node:stream';
import pino from 'pino';
import { expect, it } from 'vitest';
import { createApp } from '../../server/http/app';
import { startTestServer } from './helpers';

/**
 * At the default level the terminal shows what changes things and what went wrong, not every
 * thumbnail a page fetched (a new user's few page visits printed over a thousand request lines).
 */
it('logs writes and failures at info, successful reads at debug', async () => {
  const s = await startTestServer();
  const lines: { msg: string; level: number; method?: string; path?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
      done();
    }
  });
  try {
    const app = createApp(s.runtime, { logger: pino({ level: 'debug' }, sink) });
    expect((await app.request('/api/images/count')).status).toBe(200);
    expect((await app.request('/api/images/999999/thumb')).status).toBe(404);
    const write = await app.request('/api/search', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vector: [] })
    });
    expect(write.status).toBe(400);
    const requests = lines
      .filter((l) => l.msg === 'request')
      .map((l) => [l.method, l.path, pino.levels.labels[l.level]]);
    expect(requests).toEqual([
      ['GET', '/api/images/count', 'debug'],
      ['GET', '/api/images/999999/thumb', 'info'],
      ['POST', '/api/search', 'info']
    ]);
  } finally {
    await s.close();
  }
});
