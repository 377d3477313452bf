import type { MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import type { AppEnv } from '../context';

/** Gives every request an id (X-Request-Id, echoed back) and a pino child logger carrying it. */
export function requestLogging(base: Logger): MiddlewareHandler<AppEnv>[] {
  return [
    requestId(),
    async (c, next) => {
      const log = base.child({ reqId: c.get('requestId') });
      c.set('log', log);
      const started = performance.now();
      await next();
      const entry = {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10
      };
      // What changes things and what went wrong is what an operator wants to see; successful
      // reads (the web app's files, every thumbnail a page shows) are many and dull.
      const read = c.req.method === 'GET' || c.req.method === 'HEAD';
      if (!read || c.res.status >= 400) log.info(entry, 'request');
      else log.debug(entry, 'request');
    }
  ];
}
