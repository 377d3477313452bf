import type { MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import type { ErrorBody } from '../errors';

const deny = (message: string) => () =>
  new Response(JSON.stringify({ error: { code: 'unauthorized', message } } satisfies ErrorBody), {
    status: 401,
    headers: { 'Content-Type': 'application/json' }
  });

/**
 * Guards the endpoints that change the collection when LOOKALIKE_ADMIN_TOKEN is set: they need
 * `Authorization: Bearer <token>` (compared in constant time). Without a token, everyone may.
 */
export function adminAuth(token: string | undefined): MiddlewareHandler {
  if (!token) return (_c, next) => next();
  return bearerAuth({
    token,
    realm: 'lookalike',
    noAuthenticationHeader: {
      message: deny('This endpoint needs "Authorization: Bearer <LOOKALIKE_ADMIN_TOKEN>"')
    },
    invalidAuthenticationHeader: {
      message: deny('Malformed Authorization header; expected "Bearer <token>"')
    },
    invalidToken: { message: deny('Wrong bearer token') }
  });
}
