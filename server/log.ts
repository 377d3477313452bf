import { write, writeSync } from 'node:fs';
import pino, { type DestinationStream, type Logger } from 'pino';

/** Lines waiting for a slow or stuck stderr beyond this many bytes are dropped, not buffered. */
const MAX_PENDING_BYTES = 1024 * 1024;
/** One write carries at most this much (many short lines at once, not one syscall each). */
const MAX_WRITE_BYTES = 64 * 1024;
/** A full pipe (EAGAIN: its reader is slow) is waited for this often, this long, then dropped. */
const BUSY_RETRY_MS = 10;
const BUSY_RETRIES = 20;

export interface LogDestinationOptions {
  maxPendingBytes?: number;
  /** Called once writing works again after lines were dropped. */
  onRecovered?: (dropped: number, reason: string) => void;
}

/**
 * Where log lines go: written in order in the background, never thrown. pino's own destination
 * (sonic-boom) retries a failed chunk and emits ENOSPC as an uncaught 'error': with stderr on a
 * full disk the server stopped answering, then died. Here a chunk that cannot be written is
 * dropped and counted (`dropped`), and the first line written afterwards says so. Only a full
 * pipe is waited for, briefly (BUSY_RETRIES × BUSY_RETRY_MS).
 */
export class LogDestination implements DestinationStream {
  /** Lines lost so far (write errors, or more pending than `maxPendingBytes`). */
  dropped = 0;
  private reported = 0;
  private lastReason = '';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private writing = false;
  /** The chunk being written is the rest of a partly written one. */
  private partial = false;
  /** The stream ends part way through a line (its rest was dropped): start the next on a new line. */
  private midLine = false;
  private busyRetries = 0;
  private readonly maxPendingBytes: number;

  constructor(
    private readonly fd: number,
    private readonly options: LogDestinationOptions = {}
  ) {
    this.maxPendingBytes = options.maxPendingBytes ?? MAX_PENDING_BYTES;
  }

  write(line: string): boolean {
    const bytes = Buffer.from(line);
    if (this.pendingBytes + bytes.length > this.maxPendingBytes) {
      this.drop(1, 'too many lines waiting for stderr');
    } else {
      this.pending.push(bytes);
      this.pendingBytes += bytes.length;
      if (!this.writing) this.next();
    }
    return true;
  }

  /** Writes what is pending synchronously, ignoring errors: for process exit. */
  flushSync(): void {
    for (const chunk of this.pending.splice(0)) {
      try {
        writeSync(this.fd, chunk);
      } catch {
        this.dropped++;
      }
    }
    this.pendingBytes = 0;
  }

  private drop(lines: number, reason: string) {
    this.dropped += lines;
    this.lastReason = reason;
  }

  private next(): void {
    if (this.pending.length === 0) {
      this.writing = false;
      return;
    }
    this.writing = true;
    let lines = 1;
    let size = this.pending[0]!.length;
    while (lines < this.pending.length && size + this.pending[lines]!.length <= MAX_WRITE_BYTES) {
      size += this.pending[lines]!.length;
      lines++;
    }
    const taken = this.pending.splice(0, lines);
    const newline = this.midLine ? [Buffer.from('\n')] : [];
    const chunk = Buffer.concat([...newline, ...taken]);
    const queued = size;
    write(this.fd, chunk, 0, chunk.length, null, (error, written) => {
      this.pendingBytes -= queued;
      if (
        (error?.code === 'EAGAIN' || error?.code === 'EBUSY') &&
        this.busyRetries < BUSY_RETRIES
      ) {
        this.busyRetries++;
        this.pending.unshift(chunk); // as it was, its leading newline included
        this.pendingBytes += chunk.length;
        this.midLine = false;
        setTimeout(() => this.next(), BUSY_RETRY_MS);
        return;
      }
      const stuck = this.busyRetries > 0 && error !== null;
      this.busyRetries = 0;
      const wasPartial = this.partial;
      this.partial = false;
      if (error || written === 0) {
        this.drop(lines, error ? (error.code ?? error.message) : 'nothing written');
        if (wasPartial) this.midLine = true;
        if (stuck) {
          // Its reader is stuck: what waited behind this chunk goes too, so new lines start afresh.
          this.drop(this.pending.length, error.code ?? error.message);
          this.pending = [];
          this.pendingBytes = 0;
        }
      } else {
        this.midLine = false;
        if (this.dropped > this.reported) {
          const lost = this.dropped - this.reported;
          this.reported = this.dropped;
          this.options.onRecovered?.(lost, this.lastReason);
        }
        if (written < chunk.length) {
          // The rest gets one more try (a pipe that took part of it); a full disk fails it.
          const rest = chunk.subarray(written);
          this.pending.unshift(rest);
          this.pendingBytes += rest.length;
          this.partial = true;
        }
      }
      this.next();
    });
  }
}

/** Structured JSON logs on stderr, so stdout stays free for command output such as `embed`. */
export function createLogger(level: string): Logger {
  const destination = new LogDestination(2, {
    onRecovered: (dropped, reason) =>
      logger.warn({ dropped, reason }, 'log lines were dropped while stderr could not be written')
  });
  const logger = pino({ level, base: { service: 'lookalike' } }, destination);
  process.once('exit', () => destination.flushSync());
  // The few lines written to process.stderr directly (start-up notes) must not crash the server
  // when stderr's disk is full either.
  if (process.stderr.listenerCount('error') === 0) process.stderr.on('error', () => undefined);
  return logger;
}
