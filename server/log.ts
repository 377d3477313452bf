import pino, { type Logger } from 'pino';

/** Structured JSON logs on stderr, so stdout stays free for command output such as `embed`. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'lookalike' } }, pino.destination(2));
}
