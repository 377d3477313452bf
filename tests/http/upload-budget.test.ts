import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scene } from '../helpers/images';
import { listen, startTestServer, type TestServer } from './helpers';

const MiB = 1024 * 1024;

/** A multipart body: a picture plus a `pad` field that makes it `size` bytes in all. */
async function uploadBody(size: number, seed: number): Promise<{ body: Buffer; type: string }> {
  const boundary = 'lookalike-test-boundary';
  const image = Buffer.from(await scene(64, 48, seed));
  const head = (name: string, extra = '') =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n`;
  const imagePart = Buffer.concat([
    Buffer.from(`${head('image', '; filename="a.jpg"')}Content-Type: image/jpeg\r\n\r\n`),
    image,
    Buffer.from(`\r\n--${boundary}--\r\n`)
  ]);
  const padHead = Buffer.from(`${head('pad')}\r\n`);
  const padLength = size - imagePart.length - padHead.length - 2;
  const body = Buffer.concat([
    padHead,
    Buffer.alloc(padLength, 'x'),
    Buffer.from('\r\n'),
    imagePart
  ]);
  return { body, type: `multipart/form-data; boundary=${boundary}` };
}

/** Starts an upload and sends only the first `sent` bytes of its body. */
function partialUpload(url: string, body: Buffer, type: string, sent: number) {
  let answer!: (res: IncomingMessage) => void;
  const answered = new Promise<IncomingMessage>((resolve) => (answer = resolve));
  const req: ClientRequest = httpRequest(
    `${url}/api/encode`,
    {
      method: 'POST',
      agent: false,
      headers: { 'content-type': type, 'content-length': String(body.length) }
    },
    answer
  );
  req.on('error', () => undefined); // the server may close a refused upload's connection
  req.write(body.subarray(0, sent));
  return {
    answered,
    finish: () => req.end(body.subarray(sent)),
    abort: () => req.destroy()
  };
}

const read = async (res: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
};

describe('upload bodies and the encode budget', () => {
  let t: TestServer;
  let server: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    t = await startTestServer({
      LOOKALIKE_ENCODE_CONCURRENCY: '1',
      LOOKALIKE_ENCODE_QUEUE: '1',
      LOOKALIKE_MAX_UPLOAD_BYTES: String(4 * MiB)
    });
    server = await listen(t.app);
  });
  afterAll(async () => {
    await server.close();
    await t.close();
  });

  it('answers 503 before reading an upload that does not fit, and reads a waiting one later', async () => {
    const uploads = await Promise.all([1, 2, 3].map((seed) => uploadBody(3 * MiB, seed)));
    // One 3 MiB upload fills the budget (one encode's worth); its body is still arriving.
    const first = partialUpload(server.url, uploads[0]!.body, uploads[0]!.type, 64 * 1024);
    await new Promise((r) => setTimeout(r, 200));
    // The second waits for room; the third finds the queue full.
    const second = partialUpload(server.url, uploads[1]!.body, uploads[1]!.type, 64 * 1024);
    await new Promise((r) => setTimeout(r, 200));
    const third = partialUpload(server.url, uploads[2]!.body, uploads[2]!.type, 64 * 1024);
    try {
      // Refused with most of its body unsent: nothing waited for it, nothing read it.
      const refused = await third.answered;
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(JSON.parse(await read(refused)).error.code).toBe('busy');

      let secondAnswered = false;
      void second.answered.then(() => (secondAnswered = true));
      second.finish(); // all sent, but not read while the first holds the budget
      await new Promise((r) => setTimeout(r, 300));
      expect(secondAnswered).toBe(false);

      first.finish();
      const one = await first.answered;
      expect(one.statusCode, await read(one)).toBe(200);
      const two = await second.answered;
      expect(two.statusCode, await read(two)).toBe(200);
    } finally {
      for (const upload of [first, second, third]) upload.abort();
    }
  });

  it('reads the rest of an upload it refuses unread, so the sender finishes and gets the answer', async () => {
    const { body, type } = await uploadBody(2 * MiB, 9);
    let failed: Error | undefined;
    let answer!: (res: IncomingMessage) => void;
    const answered = new Promise<IncomingMessage>((resolve) => (answer = resolve));
    // An invalid collection name: refused by validation before the body is read.
    const req = httpRequest(
      `${server.url}/api/encode?collection=%21bad`,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': type, 'content-length': String(body.length) }
      },
      answer
    );
    req.on('error', (error) => (failed = error));
    req.write(body.subarray(0, MiB));
    // Longer than @hono/node-server's own 500 ms drain, after which it closes the socket with the
    // rest unread: a TCP reset, which can cost a slower client the answer.
    await new Promise((r) => setTimeout(r, 1500));
    const sent = new Promise<void>((resolve) => {
      req.on('close', resolve);
      req.end(body.subarray(MiB), resolve);
    });
    const res = await answered;
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(await read(res))).toMatchObject({ error: { code: 'invalid_request' } });
    await sent;
    await new Promise((r) => setTimeout(r, 100));
    expect(failed).toBeUndefined();
  });

  it('lets small uploads through beside a large one', async () => {
    const large = await uploadBody(3 * MiB, 4);
    const held = partialUpload(server.url, large.body, large.type, 64 * 1024);
    try {
      await new Promise((r) => setTimeout(r, 200));
      const small = await uploadBody(200 * 1024, 5);
      const res = await fetch(`${server.url}/api/encode`, {
        method: 'POST',
        headers: { 'content-type': small.type },
        body: new Uint8Array(small.body)
      });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(((await res.json()) as { vector: number[] }).vector.length).toBeGreaterThan(0);
      held.finish();
      expect((await held.answered).statusCode).toBe(200);
    } finally {
      held.abort();
    }
  });
});
