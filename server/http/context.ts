import { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import { ValidationError } from '../errors';
import { describeZodError } from './errors';

/** What every request carries: its id and a logger bound to it. */
export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
  };
}

/**
 * A router whose zod validation failures become ValidationError, so the app's one error handler
 * answers them as 400 `invalid_request` in the common error shape.
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw new ValidationError(describeZodError(result.error));
    }
  });
}
