import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Runtime } from '../runtime';
import { healthRoutes } from './routes/health';

/** Every error leaves the server as `{ error: { code, message } }`, never as a stack trace. */
export function createApp(runtime: Runtime): Hono {
  const app = new Hono();
  app.route('/api', healthRoutes(runtime));
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}` } }, 404));
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      return c.json({ error: { code: 'http_error', message: error.message } }, error.status);
    }
    console.error(error);
    return c.json({ error: { code: 'internal', message: 'Internal server error' } }, 500);
  });
  return app;
}
