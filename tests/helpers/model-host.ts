import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the model's host: serves one file (with its Content-Length unless told not to),
 * and can stop part way until the test has looked at the download in progress (`release`).
 */
export interface ModelHost {
  url: string;
  /** Requests it answered, so a test can check nothing was downloaded. */
  requests: number;
  /** Resolves once `pauseAt` bytes have been sent (at once without `pauseAt`). */
  paused: Promise<void>;
  /** Sends the rest. */
  release(): void;
  close(): Promise<void>;
}

export async function startModelHost(
  body: Buffer,
  options: { pauseAt?: number; withoutContentLength?: boolean } = {}
): Promise<ModelHost> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let reachedPause!: () => void;
  const paused = new Promise<void>((resolve) => (reachedPause = resolve));
  if (options.pauseAt === undefined) release();
  let requests = 0;
  const server: Server = createServer((_req, res) => {
    requests++;
    // Without a Content-Length (a host that streams, chunked), the size is unknown until the end.
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      ...(options.withoutContentLength ? {} : { 'content-length': body.length })
    });
    const cut = options.pauseAt ?? body.length;
    res.write(body.subarray(0, cut), () => {
      reachedPause();
      void released.then(() => res.end(body.subarray(cut)));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    get requests() {
      return requests;
    },
    paused,
    release,
    url: `http://127.0.0.1:${port}/model.onnx`,
    close: () => {
      release();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    }
  };
}

/** A port nothing listens on: connecting is refused at once, like an unreachable host. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
