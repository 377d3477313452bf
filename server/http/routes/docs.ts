import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Hono } from 'hono';
import { NotFoundError } from '../../errors';
import type { AppEnv } from '../context';

/** Swagger UI from the installed swagger-ui-dist package: no CDN, works offline. */
const SWAGGER_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png'
};

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Lookalike API</title>
    <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css" />
    <link rel="icon" type="image/png" href="/api/docs/assets/favicon-32x32.png" sizes="32x32" />
    <style>
      /* The app's colours (src/app.css), copied: this page does not load the app's stylesheet. */
      :root { color-scheme: light dark; --bg: #f7f7f8; --fg: #1a1c1f; --border: #c9ccd1; --accent: #1d4ed8 }
      @media (prefers-color-scheme: dark) {
        :root { --bg: #111317; --fg: #e8eaed; --border: #3b414b; --accent: #8fb3ff }
        /* Swagger UI has no dark theme: invert it, turning hues back so method colours stay. */
        #swagger-ui { filter: invert(0.9) hue-rotate(180deg) }
        #swagger-ui img { filter: invert(1) hue-rotate(180deg) }
      }
      body { margin: 0; background: var(--bg); color: var(--fg) }
      /* The way back to the app: this page is otherwise a dead end in the installed app. */
      .back { padding: 10px 12px; border-bottom: 1px solid var(--border); font: 600 16px/1.4 system-ui, sans-serif }
      .back a { color: var(--accent); text-decoration: none; display: inline-block; padding: 4px 0 }
      .back a:hover, .back a:focus-visible { text-decoration: underline }
      /* A phone: nothing wider than the screen; code and tables scroll inside themselves. */
      .swagger-ui .wrapper { padding: 0 12px; max-width: 100%; box-sizing: border-box }
      .swagger-ui pre, .swagger-ui .highlight-code, .swagger-ui .model-box { max-width: 100%; overflow-x: auto }
      .swagger-ui table { display: block; max-width: 100%; overflow-x: auto }
      .swagger-ui .opblock .opblock-summary-path { word-break: break-all }
      @media (max-width: 40rem) {
        .swagger-ui .info { margin: 20px 0 }
        .swagger-ui .info .title { font-size: 28px }
        .swagger-ui .opblock .opblock-summary { flex-wrap: wrap }
        .swagger-ui .opblock .opblock-summary-description { flex-basis: 100%; padding: 0 10px 6px }
        .swagger-ui .opblock-body select, .swagger-ui .opblock-body input { max-width: 100% }
        .swagger-ui .opblock-tag { flex-wrap: wrap }
        .swagger-ui .opblock-tag small { flex: 1 1 100%; order: 3; padding: 0 0 8px }
      }
    </style>
  </head>
  <body>
    <nav class="back" aria-label="Lookalike"><a href="/">← Lookalike</a></nav>
    <div id="swagger-ui"></div>
    <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
    <script src="/api/docs/init.js"></script>
  </body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  // No top bar: its address field, for exploring other APIs, is wider than a phone.
  layout: 'BaseLayout'
});
`;

/** GET /api/docs (the page), its script and the Swagger UI files it loads, all local. */
export function docsRoutes() {
  const cache = new Map<string, Uint8Array<ArrayBuffer>>();
  return new Hono<AppEnv>()
    .get('/docs', (c) => c.html(PAGE))
    .get('/docs/init.js', (c) => {
      c.header('Content-Type', 'text/javascript; charset=utf-8');
      return c.body(INIT);
    })
    .get('/docs/assets/:file', async (c) => {
      const name = c.req.param('file');
      const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (!type) throw new NotFoundError(`No docs asset ${name}`);
      let bytes = cache.get(name);
      if (!bytes) {
        bytes = new Uint8Array(await readFile(join(SWAGGER_DIR, name)));
        cache.set(name, bytes);
      }
      c.header('Content-Type', type);
      c.header('Cache-Control', 'public, max-age=86400');
      return c.body(bytes);
    });
}
