import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { BusyError, UserError } from '../errors';

/**
 * Pictures fetched by the server from a URL a client names (the bootcamp `/img/upload?url=`).
 * A server that fetches what it is told is a way into the networks it can reach (SSRF), so:
 * http(s) only; every address a host name resolves to must be public (or in an operator's
 * allow-list); the connection goes to the very address that was checked (the resolver is not
 * asked twice, so a DNS answer that changes between check and connect — rebinding — cannot lead
 * elsewhere); redirects are followed by hand, each target checked the same way; the body is
 * capped in size and the whole download in time. What comes back is only bytes: the caller
 * sniffs them like any upload.
 */

/** A URL the server will not fetch: its scheme, its form or the address it leads to. */
export class UrlNotAllowedError extends UserError {
  override name = 'UrlNotAllowedError';
  override readonly code = 'url_not_allowed';
}

/**
 * The URL gave no picture: unreachable, an error status, a broken redirect. A 400, not a 502:
 * the server is no proxy, and what failed is the URL the client chose.
 */
export class DownloadFailedError extends UserError {
  override name = 'DownloadFailedError';
  override readonly code = 'download_failed';
}

/** The download took longer than allowed (a 400, like any URL that gives no picture). */
export class DownloadTimeoutError extends UserError {
  override name = 'DownloadTimeoutError';
  override readonly code = 'download_timeout';
}

/** The picture is over the upload size limit. HTTP 413, like an upload that size. */
export class DownloadTooLargeError extends UserError {
  override name = 'DownloadTooLargeError';
  override readonly status = 413;
  override readonly code = 'payload_too_large';
}

export interface UrlDownloadOptions {
  /** Largest body accepted (the upload limit, LOOKALIKE_MAX_UPLOAD_BYTES). */
  maxBytes: number;
  /** The whole download, redirects included. */
  timeoutMs: number;
  maxRedirects: number;
  /** Downloads at once; more are refused with 503 (each may hold maxBytes in memory). */
  maxConcurrent: number;
  /** Networks allowed although not public (e.g. an intranet image server). */
  allowed: BlockList;
  /** The resolver (the system's by default): asked once per host and hop, never again. */
  resolveHost?: (host: string) => Promise<{ address: string; family: number }[]>;
}

const systemResolve = (host: string) => dnsLookup(host, { all: true, verbatim: true });

export const URL_ALLOWED_NETWORKS_ENV = 'LOOKALIKE_URL_ALLOWED_NETWORKS';
export const URL_TIMEOUT_ENV = 'LOOKALIKE_URL_TIMEOUT_MS';
const MAX_REDIRECTS = 5;

/**
 * The download settings from the configuration: `allowedNetworks` (LOOKALIKE_URL_ALLOWED_NETWORKS:
 * addresses or CIDR networks separated by "," or spaces, allowed besides the public internet; none
 * by default) and `timeoutMs` (LOOKALIKE_URL_TIMEOUT_MS).
 */
export function urlDownloadOptions(settings: {
  allowedNetworks: string;
  timeoutMs: number;
  maxBytes: number;
  maxConcurrent: number;
}): UrlDownloadOptions {
  const { allowedNetworks, ...limits } = settings;
  return { ...limits, maxRedirects: MAX_REDIRECTS, allowed: parseNetworks(allowedNetworks) };
}

/** `127.0.0.1, 10.0.0.0/8 fd00::/8` → a BlockList of those (used here as an allow-list). */
export function parseNetworks(text: string): BlockList {
  const list = new BlockList();
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
    const max = family === 6 ? 128 : 32;
    if (!family || extra !== undefined || !Number.isInteger(bits) || bits < 0 || bits > max) {
      throw new UserError(
        `${URL_ALLOWED_NETWORKS_ENV}: "${entry}" is not an address or a network like 10.0.0.0/8`
      );
    }
    list.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** IPv4 networks that are not the public internet (IANA special-purpose registry). */
const NON_PUBLIC_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4] // reserved, broadcast
];
/** Inside 2000::/3 (the only global unicast space), what is still not public. */
const NON_PUBLIC_V6: [string, number][] = [
  ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID, …)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: carries any IPv4 address, private ones included
  ['3fff::', 20] // documentation
];
const nonPublic = new BlockList();
for (const [net, bits] of NON_PUBLIC_V4) nonPublic.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of NON_PUBLIC_V6) nonPublic.addSubnet(net, bits, 'ipv6');
const globalUnicast = new BlockList();
globalUnicast.addSubnet('2000::', 3, 'ipv6');

/** The eight 16-bit groups of an IPv6 address (`::`, and a dotted IPv4 tail, expanded). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%')[0]!; // a zone id names an interface, not an address
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const start = parse(head);
  const end = tail === undefined ? [] : parse(tail);
  return [...start, ...new Array<number>(8 - start.length - end.length).fill(0), ...end];
}

/**
 * The IPv4 address an IPv6 address stands for, when it is the IPv4-mapped form
 * (`::ffff:127.0.0.1`, `::ffff:7f00:1`): connecting to it reaches that IPv4 address.
 */
export function mappedIpv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const g = ipv6Groups(address);
  if (g.slice(0, 5).some((x) => x !== 0) || g[5] !== 0xffff) return undefined;
  return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
}

/** True when the server may connect to `address`: public, or allowed by the operator. */
export function isAllowedAddress(address: string, allowed: BlockList): boolean {
  const v4 = isIP(address) === 4 ? address : mappedIpv4(address);
  if (v4) return allowed.check(v4, 'ipv4') || !nonPublic.check(v4, 'ipv4');
  if (isIP(address) !== 6) return false;
  const plain = address.split('%')[0]!;
  if (allowed.check(plain, 'ipv6')) return true;
  return globalUnicast.check(plain, 'ipv6') && !nonPublic.check(plain, 'ipv6');
}

interface Target {
  url: URL;
  address: string;
  family: 4 | 6;
}

/**
 * Downloads pictures from URLs within the limits; see the module comment for the rules.
 */
export class UrlDownloader {
  #active = 0;

  constructor(private readonly options: UrlDownloadOptions) {}

  /** The body of `url` (after redirects), at most maxBytes. */
  async download(url: string, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#active >= this.options.maxConcurrent) {
      throw new BusyError(
        `${this.options.maxConcurrent} URL downloads are already running; retry shortly`
      );
    }
    this.#active++;
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const deadline = signal ? AbortSignal.any([timeout, signal]) : timeout;
    try {
      let current = parseUrl(url);
      for (let redirects = 0; ; redirects++) {
        const target = await this.#check(current, deadline);
        const res = await get(target, deadline);
        const location = res.headers.location;
        if (REDIRECTS.has(res.statusCode ?? 0) && location) {
          res.destroy();
          if (redirects >= this.options.maxRedirects)
            throw new DownloadFailedError(`More than ${this.options.maxRedirects} redirects`);
          current = parseUrl(location, current);
          continue;
        }
        if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
          res.destroy();
          throw new DownloadFailedError(
            `The URL answered HTTP ${res.statusCode ?? '?'} instead of a picture`
          );
        }
        return await this.#body(res);
      }
    } catch (error) {
      if (timeout.aborted) {
        throw new DownloadTimeoutError(
          `The download took longer than ${this.options.timeoutMs} ms (${URL_TIMEOUT_ENV})`
        );
      }
      if (error instanceof UserError) throw error;
      if (signal?.aborted) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new DownloadFailedError(
        `Could not download the URL (${code ?? (error instanceof Error ? error.message : String(error))})`
      );
    } finally {
      this.#active--;
    }
  }

  /** The address to connect to: every address the host resolves to must be allowed. */
  async #check(url: URL, signal: AbortSignal): Promise<Target> {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const literal = isIP(host);
    const addresses = literal
      ? [{ address: host, family: literal }]
      : await abortable((this.options.resolveHost ?? systemResolve)(host), signal).catch(
          (error: unknown) => {
            if (signal.aborted) throw error;
            throw new DownloadFailedError(
              `Cannot resolve ${host} (${(error as NodeJS.ErrnoException).code ?? String(error)})`
            );
          }
        );
    const refused = addresses.find((a) => !isAllowedAddress(a.address, this.options.allowed));
    if (refused || addresses.length === 0) {
      throw new UrlNotAllowedError(
        `Not downloading from ${host}: it leads to ${refused?.address ?? 'no address'}, which is ` +
          `not a public address (allow networks with ${URL_ALLOWED_NETWORKS_ENV})`
      );
    }
    const first = addresses[0]!;
    return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
  }

  async #body(res: IncomingMessage): Promise<Uint8Array> {
    const { maxBytes } = this.options;
    const tooLarge = () =>
      new DownloadTooLargeError(
        `The picture at the URL is over the ${maxBytes} bytes limit (LOOKALIKE_MAX_UPLOAD_BYTES)`
      );
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (declared > maxBytes) {
      res.destroy();
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        res.destroy();
        throw tooLarge();
      }
      chunks.push(chunk);
    }
    return new Uint8Array(Buffer.concat(chunks, size));
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function parseUrl(text: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    throw new UrlNotAllowedError(`Not a valid URL: ${text.slice(0, 200)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UrlNotAllowedError(`Only http and https URLs are downloaded, not ${url.protocol}`);
  if (url.username || url.password)
    throw new UrlNotAllowedError('URLs with a user name or password are not downloaded');
  return url;
}

/** One GET to the checked address, nothing pooled or resolved again. */
function get(target: Target, signal: AbortSignal): Promise<IncomingMessage> {
  const { address, family } = target;
  // Host names still go through `lookup` (for the Host header and TLS name), answered with the
  // address already checked; IP literals are connected to directly.
  const lookup: LookupFunction = (_host, options, callback) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const client = target.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(target.url, {
      method: 'GET',
      headers: { 'user-agent': 'Lookalike (picture upload by URL)', accept: 'image/*' },
      lookup,
      agent: false,
      signal
    });
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      }
    );
  });
}
