import createClient from 'openapi-fetch';
import type { paths } from './openapi';
import type { ApiError } from './types';

/** The server did not answer (network failure, or a gateway saying it is down). */
export class ServerUnreachableError extends Error {
  constructor(message = 'The Lookalike server cannot be reached') {
    super(message);
    this.name = 'ServerUnreachableError';
  }
}

/** The server answered with an error; `message` is the server's own explanation. */
export class ApiRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** Statuses a proxy gives when the app behind it is down (no answer from the app at all). */
const GATEWAY_DOWN = new Set([502, 504]);

export function isUnreachable(error: unknown): error is ServerUnreachableError {
  return error instanceof ServerUnreachableError;
}

/** The server's own error body, `{error: {code, message}}`, or undefined for anything else. */
async function apiError(response: Response): Promise<ApiError['error'] | undefined> {
  const body: unknown = await response.json().catch(() => undefined);
  return isApiError(body) ? body.error : undefined;
}

function isApiError(body: unknown): body is ApiError {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false;
  const { error } = body;
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string' &&
    'message' in error &&
    typeof error.message === 'string'
  );
}

/**
 * fetch with the server's error shape turned into an ApiRequestError carrying its message, and a
 * server that cannot be reached turned into ServerUnreachableError so callers can fall back to
 * offline data. "Cannot be reached" is a network failure, a gateway's 502/504, or a 503 that is
 * not the app's own: the app's JSON 503 (a store down, encoding busy) means it is there and said
 * why. Resolves only with 2xx (and 3xx) answers.
 */
export async function checkedFetch(
  input: RequestInfo | URL,
  init?: RequestInit
): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(input, init);
  } catch (error) {
    // An abort is the caller's decision, not a sign that the server is gone.
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ServerUnreachableError();
  }
  if (!response.ok) {
    if (GATEWAY_DOWN.has(response.status)) throw new ServerUnreachableError();
    const error = await apiError(response);
    if (response.status === 503 && !error) throw new ServerUnreachableError();
    throw new ApiRequestError(
      error?.message ?? `The server answered ${response.status} ${response.statusText}`,
      response.status,
      error?.code ?? 'http_error'
    );
  }
  return response;
}

/**
 * The server's JSON API, typed from its OpenAPI document (openapi.d.ts, generated from the zod
 * schemas by scripts/api-types.ts): paths, parameters, bodies and answers. Calls reject as
 * checkedFetch does, so a call that returns has its 2xx body; take it with `dataOf`:
 * `dataOf(await api.GET('/api/index/{jobId}', { params: { path: { jobId } } }))`. Marked pure
 * so bundles that import this module but never call the API (the search worker) leave it out.
 */
export const api = /* @__PURE__ */ createClient<paths>({
  // openapi-fetch builds a Request, which needs an absolute URL outside a page (tests in Node).
  baseUrl: globalThis.location?.origin ?? 'http://localhost',
  fetch: (request) => checkedFetch(request)
});

/** The body of a call's 2xx answer (openapi-fetch's result, with `data` typed by the route). */
export function dataOf<T>(result: { data?: T; response: Response }): T {
  // checkedFetch has turned every non-2xx answer into an error; an empty 2xx is not the API's.
  if (result.data === undefined) {
    throw new ApiRequestError(
      `The server answered ${result.response.status} without a body`,
      result.response.status,
      'http_error'
    );
  }
  return result.data;
}
