import { existsSync } from 'node:fs';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Runtime } from '../runtime';
import { healthRoutes } from './routes/health';

/** Every error leaves the server as `{ error: { code, message } }`, never as a stack trace. */
export function createApp(runtime: Runtime, options: { staticDir?: string } = {}): Hono {
  const app = new Hono();
  app.route('/api', healthRoutes(runtime));
  // The web app's static build, with index.html as the single-page fallback for its routes.
  const root = options.staticDir;
  if (root && existsSync(root)) {
    app.use('*', serveStatic({ root }));
    app.get('*', (c, next) =>
      c.req.path.startsWith('/api/') ? next() : serveStatic({ root, path: 'index.html' })(c, next)
    );
  }
  app.notFound((c) =>
    c.json(
      { error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}` } },
      404
    )
  );
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      return c.json({ error: { code: 'http_error', message: error.message } }, error.status);
    }
    console.error(error);
    return c.json({ error: { code: 'internal', message: 'Internal server error' } }, 500);
  });
  return app;
}
