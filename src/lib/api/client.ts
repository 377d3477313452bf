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
  const body = (await response.json().catch(() => undefined)) as Partial<ApiError> | undefined;
  const error = body?.error;
  return typeof error?.message === 'string' && typeof error.code === 'string' ? error : undefined;
}

/**
 * fetch + JSON with the server's error shape turned into an ApiRequestError carrying its message,
 * and a server that cannot be reached turned into ServerUnreachableError so callers can fall back
 * to offline data. "Cannot be reached" is a network failure, a gateway's 502/504, or a 503 that is
 * not the app's own: the app's JSON 503 (a store down, encoding busy) means it is there and said why.
 */
export async function requestJson<T>(url: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, init);
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
  return (await response.json()) as T;
}

export const getJson = <T>(url: string, init?: RequestInit) => requestJson<T>(url, init);

export const postJson = <T>(url: string, body: unknown, init: RequestInit = {}) =>
  requestJson<T>(url, {
    ...init,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify(body)
  });
