import { existsSync } from 'node:fs';
import { OpenAPIHono } from '@hono/zod-openapi';
import pino from 'pino';
import type { Config } from '../config';
import type { AppOptions } from './app';
import type { AppEnv } from './context';
import { handleError, notFoundBody, type ErrorBody } from './errors';
import { allowedHosts } from './middleware/allowed-hosts';
import { requestLogging } from './middleware/request-log';
import { mountStaticSite } from './middleware/static-site';
import { startingHealthRoutes, type StartingHealth } from './routes/health';

/** What a client is told to wait before asking again. */
export const STARTING_RETRY_AFTER_S = 2;

/** The API's paths: /api and the bootcamp-compatible ones, which the page's fallback must not answer. */
const API_PATH = /^\/(api|img)(\/|$)|^\/(progress|data)$/;

/**
 * The app `serve` answers with while it gets ready (the model's first download): the web page, so
 * it can show the progress; /api/health with that progress; 503 `starting` with Retry-After for
 * everything else. The same Host check as the real app, which replaces it on the same server.
 */
export function createStartingApp(
  status: () => StartingHealth,
  config: Pick<Config, 'host' | 'allowedHosts'>,
  options: AppOptions = {}
): OpenAPIHono<AppEnv> {
  const log = options.logger ?? pino({ level: 'silent' });
  const app = new OpenAPIHono<AppEnv>();
  // The page asks for /api/health every second: at info, those lines would bury the progress bar.
  const quiet = log.isLevelEnabled('debug')
    ? log
    : log.child({}, { level: log.isLevelEnabled('warn') ? 'warn' : log.level });
  app.use('*', ...requestLogging(quiet));
  app.use('*', allowedHosts({ bindHost: config.host, allowed: config.allowedHosts }));
  app.route('/api', startingHealthRoutes(status));
  app.use('*', (c, next) => {
    if (!API_PATH.test(c.req.path)) return next();
    const downloading = status().model?.downloading ? ': downloading the model' : '';
    // Answered here rather than thrown: an expected wait, not an error worth a log line per poll.
    const body: ErrorBody = {
      error: {
        code: 'starting',
        message: `Lookalike is starting${downloading}; try again in a moment (GET /api/health says how far it is)`
      }
    };
    return Promise.resolve(c.json(body, 503, { 'Retry-After': String(STARTING_RETRY_AFTER_S) }));
  });
  const root = options.staticDir;
  if (root && existsSync(root)) mountStaticSite(app, root);
  app.notFound((c) => c.json(notFoundBody(c), 404));
  app.onError((error, c) => handleError(error, c, c.get('log') ?? quiet));
  return app;
}
