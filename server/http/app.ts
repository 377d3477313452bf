import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import pino, { type Logger } from 'pino';
import type { Runtime } from '../runtime';
import { EncodeLimiter } from '../services/encode-limiter';
import { Thumbnails } from '../services/thumbnails';
import { defaultScope } from './collection-scope';
import type { AppEnv } from './context';
import { handleError, notFoundBody } from './errors';
import { allowedHosts } from './middleware/allowed-hosts';
import { bodyLimits } from './middleware/body-limit';
import { refuseCrossSite } from './middleware/cross-site';
import { requestLogging } from './middleware/request-log';
import { mountStaticSite } from './middleware/static-site';
import { collectionRoutes } from './routes/collections';
import { docsRoutes } from './routes/docs';
import { duplicateRoutes } from './routes/duplicates';
import { encodeRoutes } from './routes/encode';
import { healthRoutes } from './routes/health';
import { imageRoutes } from './routes/images';
import { indexJobRoutes } from './routes/index-jobs';
import { libraryRoutes } from './routes/library';
import { modelRoutes } from './routes/model';
import { modelListRoutes } from './routes/models';
import { searchRoutes } from './routes/search';
import { bootcampRoutes } from './routes/bootcamp';
import { snapshotRoutes } from './routes/snapshot';
import { trashRoutes } from './routes/trash';
import { addCommonResponses } from './schemas';
import { UPLOAD_PATHS, uploadBudget } from './upload-limits';

export interface AppOptions {
  /** The web app's static build, served with a single-page fallback outside /api. */
  staticDir?: string;
  /** Request and error logs; silent when left out. */
  logger?: Logger;
}

const API_DESCRIPTION = `Reverse image search: index folders of pictures, find the most similar ones.

The **bootcamp-compatible** endpoints (\`/img/*\`, \`/progress\`, \`/data\`) answer exactly like the
original Milvus bootcamp server, so its client and scripts work unchanged. Their \`Table\` and
\`table_name\` parameters name the collection, as the original's tables.

Named collections (\`/api/collections\`) each have their own model, vectors and jobs; every
collection-scoped endpoint takes an optional \`collection\` query (default \`default\`).

Every error is \`{ "error": { "code", "message" } }\`. When LOOKALIKE_ADMIN_TOKEN is set, the
endpoints that change the collection need \`Authorization: Bearer <token>\`.

Requests other than GET/HEAD/OPTIONS that a browser marks as coming from another site are refused
(403) unless their origin is in LOOKALIKE_CORS_ORIGINS; a Host the server does not answer to gets
421 (see LOOKALIKE_ALLOWED_HOSTS).`;

/**
 * The HTTP app: thin routes over the runtime's services, zod validation on every input, one error
 * handler, a request id and log line per request, a Host check, cross-site writes refused, body
 * caps, optional bearer token and CORS, the OpenAPI document with Swagger UI, and the web app's
 * static build.
 */
export function createApp(runtime: Runtime, options: AppOptions = {}): OpenAPIHono<AppEnv> {
  const { config } = runtime;
  const log = options.logger ?? pino({ level: 'silent' });
  const limiter = new EncodeLimiter({
    concurrency: config.encodeConcurrency,
    queue: config.encodeQueue
  });
  const thumbnails = new Thumbnails({
    dir: join(config.dataDir, 'thumbs'),
    maxPixels: config.maxPixels
  });
  // The default collection's, shared with POST /img/upload of the bootcamp routes.
  const { uploads } = defaultScope(runtime);

  const app = new OpenAPIHono<AppEnv>();
  app.use('*', ...requestLogging(log));
  app.use('*', allowedHosts({ bindHost: config.host, allowed: config.allowedHosts }));
  if (config.corsOrigins.length > 0) {
    app.use(
      '*',
      cors({
        origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
        allowMethods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
        exposeHeaders: ['ETag', 'Content-Range', 'Retry-After', 'X-Request-Id'],
        maxAge: 600
      })
    );
  }
  app.use('*', refuseCrossSite(config.corsOrigins));
  app.use('*', bodyLimits({ maxUploadBytes: config.maxUploadBytes, uploadPaths: UPLOAD_PATHS }));
  // Upload bodies are read only once there is room for them (a budget of encodeConcurrency).
  app.use('*', uploadBudget({ ...config, uploadPaths: UPLOAD_PATHS }));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'LOOKALIKE_ADMIN_TOKEN, when set'
  });
  app.route('/api', healthRoutes(runtime));
  app.route('/api', collectionRoutes(runtime));
  app.route('/api', snapshotRoutes(runtime)); // before indexJobRoutes: /index/{jobId}
  app.route('/api', indexJobRoutes(runtime));
  app.route('/api', libraryRoutes(runtime));
  app.route('/api', searchRoutes(runtime, limiter));
  app.route('/api', encodeRoutes(runtime, limiter));
  app.route('/api', imageRoutes(runtime, thumbnails));
  app.route('/api', duplicateRoutes(runtime));
  app.route('/api', trashRoutes(runtime, limiter));
  app.route('/api', modelRoutes(runtime));
  app.route('/api', modelListRoutes(runtime));
  app.route('/', bootcampRoutes(runtime, limiter, uploads));
  addCommonResponses(app.openAPIRegistry);
  app.doc('/api/openapi.json', {
    openapi: '3.0.3',
    info: { title: 'Lookalike', version: '0.1.0', description: API_DESCRIPTION },
    tags: [
      { name: 'status' },
      {
        name: 'collections',
        description:
          'Named collections, each with its own model, vectors and jobs. Every endpoint that reads ' +
          'or changes pictures takes an optional `collection` query (default `default`); an unknown ' +
          'one is 404 `collection_not_found`.'
      },
      { name: 'indexing' },
      { name: 'search' },
      { name: 'images' },
      { name: 'model' },
      {
        name: 'offline',
        description: 'Snapshot of the collection for searching without the server'
      },
      {
        name: 'diagnostics',
        description: 'Server-side encoding, for checking a browser gives the same vectors (/check)'
      },
      { name: 'bootcamp-compatible', description: 'The original bootcamp API, unchanged' }
    ]
  });
  app.route('/api', docsRoutes());

  const root = options.staticDir;
  if (root && existsSync(root)) mountStaticSite(app, root);

  app.notFound((c) => c.json(notFoundBody(c), 404));
  app.onError((error, c) => handleError(error, c, c.get('log') ?? log));
  return app;
}
