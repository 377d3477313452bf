import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** How long a refused connection may go on sending what the server will not read. */
const DRAIN_MS = 2000;

/**
 * Requests Node refuses before the app sees them (a request line and headers over its header
 * limit, a malformed request, a timeout) get the API's error shape, and what the client still
 * sends is read and dropped before the socket closes. Node's default answer closes at once with
 * bytes unread, which makes TCP reset the connection and can take the answer with it.
 */
export function answerClientErrors(server: {
  on(event: 'clientError', listener: (error: Error, socket: Duplex) => void): unknown;
}): void {
  server.on('clientError', (error, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const code = (error as NodeJS.ErrnoException).code;
    const [status, errorCode, message] =
      code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'The request line and headers are too large.']
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'request_timeout', 'The request took too long to arrive.']
          : [400, 'bad_request', 'The request is not valid HTTP.'];
    const body = JSON.stringify({ error: { code: errorCode, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
    );
    socket.on('error', () => undefined);
    socket.resume();
    setTimeout(() => socket.destroy(), DRAIN_MS).unref();
  });
}
