import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, startTestServer, type TestServer } from './helpers';

/** Sends raw bytes and reads everything the server answers until it closes. */
function exchange(url: string, request: Buffer): Promise<{ answer: string; error?: Error }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: Error | undefined;
    const socket = connect(Number(port), hostname, () => socket.end(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (e) => (error = e));
    socket.on('close', () => resolve({ answer: Buffer.concat(chunks).toString(), error }));
  });
}

describe('requests Node refuses before the app', () => {
  let t: TestServer;
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    t = await startTestServer();
    server = await listen(t.app);
  });
  afterAll(async () => {
    await server.close();
    await t.close();
  });

  it('answer an over-long URL with 431 in the error shape, without resetting the connection', async () => {
    // What a fuzzer sent: a ~100 KB query string (over Node's 16 KiB header limit) and a body.
    const body = Buffer.alloc(64 * 1024, 'x');
    const head =
      `POST /img/upload?url=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { answer, error } = await exchange(server.url, Buffer.concat([Buffer.from(head), body]));
    expect(error).toBeUndefined();
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    const json = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(json)).toMatchObject({ error: { code: 'headers_too_large' } });
  });

  it('answer a malformed request with 400 in the error shape', async () => {
    const { answer } = await exchange(server.url, Buffer.from('NOT HTTP AT ALL\r\n\r\n'));
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"code":"bad_request"');
  });
});
