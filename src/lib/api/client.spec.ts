import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiRequestError, dataOf, ServerUnreachableError } from './client';

function answer(status: number, body: string, contentType = 'application/json') {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response(body, { status, headers: { 'content-type': contentType } }))
  );
}

afterEach(() => vi.unstubAllGlobals());

/** A call of the typed client, as the page makes them. */
const search = async () =>
  dataOf(await api.POST('/api/search', { body: { vector: [1], topK: 1 } }));
const health = async () => dataOf(await api.GET('/api/health'));

describe('the API client', () => {
  it('calls a network failure and a gateway’s 502/504 unreachable', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('Failed to fetch');
      })
    );
    await expect(health()).rejects.toBeInstanceOf(ServerUnreachableError);
    for (const status of [502, 504]) {
      answer(status, '<html>Bad gateway</html>', 'text/html');
      await expect(health()).rejects.toBeInstanceOf(ServerUnreachableError);
    }
  });

  it('calls a 503 without the app’s error body unreachable (a proxy’s page)', async () => {
    answer(503, '<html>Service Unavailable</html>', 'text/html');
    await expect(search()).rejects.toBeInstanceOf(ServerUnreachableError);
    answer(503, '{"status":"down"}');
    await expect(search()).rejects.toBeInstanceOf(ServerUnreachableError);
  });

  it('passes on the app’s own JSON 503 with its message: the server is there', async () => {
    answer(
      503,
      JSON.stringify({ error: { code: 'store_unavailable', message: 'Milvus is down' } })
    );
    const error = await search().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiRequestError);
    expect(error).toMatchObject({
      message: 'Milvus is down',
      status: 503,
      code: 'store_unavailable'
    });
  });

  it('passes on other errors with the server’s message, or the status without one', async () => {
    answer(400, JSON.stringify({ error: { code: 'bad_request', message: 'topK must be 1–100' } }));
    await expect(search()).rejects.toMatchObject({
      message: 'topK must be 1–100',
      status: 400
    });
    answer(500, 'oops', 'text/plain');
    await expect(search()).rejects.toMatchObject({ status: 500, code: 'http_error' });
  });
});

describe('the typed calls', () => {
  it('send the method, path, query and JSON body the route declares, and give its body', async () => {
    const fetch = vi.fn(async (_request: Request) =>
      Response.json({ jobs: [] }, { headers: { 'content-type': 'application/json' } })
    );
    vi.stubGlobal('fetch', fetch);
    expect(dataOf(await api.GET('/api/index', { params: { query: { limit: 5 } } }))).toEqual({
      jobs: []
    });
    const request = fetch.mock.calls[0]![0];
    expect(request.method).toBe('GET');
    // `/index` stays: the path is the document's, not a client's convention.
    expect(new URL(request.url).pathname + new URL(request.url).search).toBe('/api/index?limit=5');

    fetch.mockClear();
    await api.POST('/api/index', { body: { path: '/pictures', recursive: false } });
    const post = fetch.mock.calls[0]![0];
    expect(post.method).toBe('POST');
    expect(new URL(post.url).pathname).toBe('/api/index');
    expect(post.headers.get('content-type')).toBe('application/json');
    expect(await post.json()).toEqual({ path: '/pictures', recursive: false });
  });

  it('fill in path parameters, encoded', async () => {
    const fetch = vi.fn(async (_request: Request) => Response.json({}));
    vi.stubGlobal('fetch', fetch);
    await api.GET('/api/index/{jobId}', { params: { path: { jobId: 'a b/c' } } });
    expect(new URL(fetch.mock.calls[0]![0].url).pathname).toBe('/api/index/a%20b%2Fc');
  });
});
