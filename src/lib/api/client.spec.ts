import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiRequestError, getJson, ServerUnreachableError } from './client';

function answer(status: number, body: string, contentType = 'application/json') {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response(body, { status, headers: { 'content-type': contentType } }))
  );
}

afterEach(() => vi.unstubAllGlobals());

describe('requestJson', () => {
  it('calls a network failure and a gateway’s 502/504 unreachable', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('Failed to fetch');
      })
    );
    await expect(getJson('/api/health')).rejects.toBeInstanceOf(ServerUnreachableError);
    for (const status of [502, 504]) {
      answer(status, '<html>Bad gateway</html>', 'text/html');
      await expect(getJson('/api/health')).rejects.toBeInstanceOf(ServerUnreachableError);
    }
  });

  it('calls a 503 without the app’s error body unreachable (a proxy’s page)', async () => {
    answer(503, '<html>Service Unavailable</html>', 'text/html');
    await expect(getJson('/api/search')).rejects.toBeInstanceOf(ServerUnreachableError);
    answer(503, '{"status":"down"}');
    await expect(getJson('/api/search')).rejects.toBeInstanceOf(ServerUnreachableError);
  });

  it('passes on the app’s own JSON 503 with its message: the server is there', async () => {
    answer(
      503,
      JSON.stringify({ error: { code: 'store_unavailable', message: 'Milvus is down' } })
    );
    const error = await getJson('/api/search').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiRequestError);
    expect(error).toMatchObject({
      message: 'Milvus is down',
      status: 503,
      code: 'store_unavailable'
    });
  });

  it('passes on other errors with the server’s message, or the status without one', async () => {
    answer(400, JSON.stringify({ error: { code: 'bad_request', message: 'topK must be 1–100' } }));
    await expect(getJson('/api/search')).rejects.toMatchObject({
      message: 'topK must be 1–100',
      status: 400
    });
    answer(500, 'oops', 'text/plain');
    await expect(getJson('/api/search')).rejects.toMatchObject({ status: 500, code: 'http_error' });
  });
});
