import type { OpenAPIHono } from '@hono/zod-openapi';
import { serveStatic } from '@hono/node-server/serve-static';
import type { AppEnv } from '../context';

/** The web page runs onnxruntime-web with threads, which needs cross-origin isolation. */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin'
} as const;

const isApi = (path: string) => path === '/api' || path.startsWith('/api/');

/**
 * Serves the web app's static build: files as they are, index.html as the single-page fallback
 * for any other GET outside /api, all with the cross-origin isolation headers and `.wasm` as
 * application/wasm, hashed assets cached for good and the rest revalidated. Mount it after every
 * API route.
 */
export function mountStaticSite(app: OpenAPIHono<AppEnv>, root: string): void {
  app.use('*', async (c, next) => {
    if (isApi(c.req.path)) return next();
    await next();
    if (c.res.status >= 400) return;
    for (const [name, value] of Object.entries(ISOLATION_HEADERS)) c.header(name, value);
    if (c.req.path.endsWith('.wasm')) c.header('Content-Type', 'application/wasm');
    if (c.req.path.endsWith('.webmanifest')) c.header('Content-Type', 'application/manifest+json');
    // Hashed build output never changes under its name; everything else (index.html, the
    // service worker, the manifest) must be revalidated so a new release is picked up.
    c.header(
      'Cache-Control',
      c.req.path.startsWith('/_app/immutable/') ? 'public, max-age=31536000, immutable' : 'no-cache'
    );
  });
  const files = serveStatic<AppEnv>({ root });
  app.use('*', (c, next) => (isApi(c.req.path) ? next() : files(c, next)));
  const fallback = serveStatic<AppEnv>({ root, path: 'index.html' });
  app.get('*', (c, next) => (isApi(c.req.path) ? next() : fallback(c, next)));
}
