import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import { hostnameOf } from '../../config';
import { HttpError } from '../errors';

/** Names that always reach this machine; a DNS-rebinding page cannot make a browser send them. */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name === '::1') return true;
  return isIP(name) === 4 && name.startsWith('127.');
}

/** Bound to every interface: the Host alone says nothing about which one was reached. */
const WILDCARD_BINDS = new Set(['0.0.0.0', '::', '[::]']);

/**
 * Answers only requests whose Host names this server, so a page whose own name was re-pointed at
 * the server (DNS rebinding) cannot read the collection through the victim's browser.
 *
 * - Bound to loopback: loopback names (`localhost`, `127.x.x.x`, `[::1]`, any port) plus
 *   LOOKALIKE_ALLOWED_HOSTS.
 * - Bound to any other address: every name, unless LOOKALIKE_ALLOWED_HOSTS is set; then those,
 *   loopback names and the bound address itself. A server reached through a proxy or a published
 *   container port cannot tell who can reach it, so the list is the operator's to give.
 * - `*` in the list answers every name.
 */
export function allowedHosts(options: { bindHost: string; allowed: string[] }): MiddlewareHandler {
  const { bindHost, allowed } = options;
  const bindName = hostnameOf(bindHost) ?? hostnameOf(`[${bindHost}]`) ?? bindHost;
  const loopbackBind = isLoopbackName(bindName);
  if (allowed.includes('*') || (!loopbackBind && allowed.length === 0)) {
    return (_c, next) => next();
  }
  const names = new Set(allowed);
  if (!WILDCARD_BINDS.has(bindName)) names.add(bindName);

  return async (c, next) => {
    // The URL's host is the Host header (@hono/node-server builds it from there and refuses one
    // that does not parse).
    const hostname = new URL(c.req.url).hostname;
    if (isLoopbackName(hostname) || names.has(hostname)) return next();
    throw new HttpError(
      421,
      'misdirected_request',
      `This server does not answer to the host name "${hostname}" (it listens on ${bindHost}). ` +
        'If that name is yours, add it to LOOKALIKE_ALLOWED_HOSTS (comma-separated).'
    );
  };
}
