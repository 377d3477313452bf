import type { Context, MiddlewareHandler } from 'hono';
import { HttpError } from '../errors';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses every request that changes the collection or costs work (anything but GET, HEAD and
 * OPTIONS) when a browser says it comes from another site, token or not. Without it any web page
 * could clear or fill the collection with a form post or a `text/plain` fetch, which need no CORS
 * preflight. Requests that carry neither `Origin` nor `Sec-Fetch-Site` (curl, the CLI, scripts,
 * server-to-server) are not from a browser page and pass.
 *
 * Allowed: `Sec-Fetch-Site: same-origin`; an `Origin` whose host is the request's own (the scheme
 * may differ behind a TLS proxy) or that LOOKALIKE_CORS_ORIGINS lists (`*`: every origin). Without
 * `Origin`, `Sec-Fetch-Site: same-site` or `cross-site` is refused.
 *
 * hono/csrf is close but does not fit: it refuses form and text bodies that carry neither header
 * (the bootcamp's scripts upload multipart without `Origin`), lets JSON and bodiless requests
 * through unchecked, and answers plain text rather than the app's error body.
 */
export function refuseCrossSite(corsOrigins: readonly string[]): MiddlewareHandler {
  const anyOrigin = corsOrigins.includes('*');
  const listed = new Set(corsOrigins);

  const allowedOrigin = (origin: string, c: Context) => {
    if (anyOrigin || listed.has(origin)) return true;
    return URL.canParse(origin) && new URL(origin).host === new URL(c.req.url).host;
  };

  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    const site = c.req.header('sec-fetch-site');
    if (site === 'same-origin') return next();
    const origin = c.req.header('origin');
    if (
      origin === undefined
        ? site !== 'same-site' && site !== 'cross-site'
        : allowedOrigin(origin, c)
    )
      return next();
    throw new HttpError(
      403,
      'cross_site_refused',
      `Refused ${c.req.method} ${c.req.path} from ${origin ? `the web page at ${origin}` : 'another site'}: ` +
        'only this server’s own pages may change or search the collection. To let a page on ' +
        'another origin do so, add that origin to LOOKALIKE_CORS_ORIGINS (comma-separated).'
    );
  };
}
