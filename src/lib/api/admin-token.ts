import { ApiRequestError } from './client';

/**
 * The server's admin token, as every call that changes a collection sends it. A server started
 * with LOOKALIKE_ADMIN_TOKEN wants `Authorization: Bearer <token>` on those calls. The token the
 * user typed is kept for this tab only (sessionStorage): it is a password, not a preference.
 * A token the server refuses is forgotten at once, so it is not sent again with the next change.
 */

const TOKEN_KEY = 'lookalike-admin-token';
/** Where sessionStorage is blocked (some privacy settings), the token lasts until the page closes. */
let tokenInMemory: string | undefined;

/** What a change says when the user gave up on the token it waited for. */
export const ADMIN_TOKEN_NEEDED = 'This server needs its admin token to change the collection';

export function adminToken(): string | undefined {
  try {
    const storage = globalThis.sessionStorage;
    // getItem may work where setItem throws (some private modes): fall back to the memory copy.
    return (storage?.getItem(TOKEN_KEY) ?? undefined) || tokenInMemory;
  } catch {
    return tokenInMemory;
  }
}

/** Keeps the token for the next calls; `undefined` forgets it (e.g. the server refused it). */
export function setAdminToken(token: string | undefined): void {
  tokenInMemory = token;
  try {
    if (token === undefined) globalThis.sessionStorage?.removeItem(TOKEN_KEY);
    else globalThis.sessionStorage?.setItem(TOKEN_KEY, token);
  } catch {
    // blocked storage: the in-memory copy serves
  }
}

/** The server refused a change for want of the right admin token (missing, malformed or wrong). */
export function needsAdminToken(error: unknown): error is ApiRequestError {
  return (
    error instanceof ApiRequestError && (error.status === 401 || error.code === 'unauthorized')
  );
}

/** `headers` with the kept token's Authorization added, when there is one. */
export function adminHeaders(headers: Record<string, string> = {}): Record<string, string> {
  const token = adminToken();
  return token ? { ...headers, authorization: `Bearer ${token}` } : headers;
}

/**
 * Runs a call that changes a collection. When the server refuses it for want of the admin token,
 * forgets a token that was sent (it was wrong), asks for one — with the server's reason when a
 * token was refused — and runs the call again once `ask` resolves; `ask` rejects when the user
 * gives up, and so does this.
 */
export async function withAdminToken<T>(
  call: () => Promise<T>,
  ask: (refused: string | undefined) => Promise<void>
): Promise<T> {
  for (;;) {
    const sent = adminToken() !== undefined;
    try {
      return await call();
    } catch (error) {
      if (!needsAdminToken(error)) throw error;
      if (sent) setAdminToken(undefined);
      await ask(sent ? error.message : undefined);
    }
  }
}
