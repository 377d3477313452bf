import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine, norm } from '#core/vector';
import { scene } from '../helpers/images';
import { errorOf, imageForm, startTestServer, type TestServer } from './helpers';

interface EncodeBody {
  vector: number[];
  modelId: string;
  dimension: number;
  tookMs: number;
}

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ LOOKALIKE_MAX_UPLOAD_BYTES: String(64 * 1024) });
});
afterAll(() => s.close());

const encode = (form: FormData) => s.app.request('/api/encode', { method: 'POST', body: form });

describe('POST /api/encode', () => {
  it('returns the unit vector indexing computes for the same bytes', async () => {
    const bytes = await scene(160, 120, 5);
    const res = await encode(imageForm(bytes));
    expect(res.status).toBe(200);
    const body = (await res.json()) as EncodeBody;
    expect(body.modelId).toBe('tiny');
    expect(body.dimension).toBe(128);
    expect(body.vector).toHaveLength(128);
    expect(body.tookMs).toBeGreaterThan(0);
    expect(norm(body.vector)).toBeCloseTo(1, 5);
    const indexed = await s.runtime.embedder.embedOne(bytes);
    expect(cosine(body.vector, indexed)).toBeGreaterThan(0.999999);
    // A different picture gives a different vector (the route does not answer a constant).
    const other = (await (await encode(imageForm(await scene(160, 120, 6)))).json()) as EncodeBody;
    expect(cosine(body.vector, other.vector)).toBeLessThan(0.999);
  });

  it('refuses a file that is not an image with 400 invalid_image', async () => {
    const res = await encode(imageForm(new TextEncoder().encode('not a picture at all')));
    expect(res.status).toBe(400);
    expect((await errorOf(res)).error.code).toBe('invalid_image');
  });

  it('refuses a form without an image with 400 invalid_request', async () => {
    const form = new FormData();
    form.append('picture', 'nope');
    const res = await encode(form);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).error.code).toBe('invalid_request');
  });

  it('refuses an upload over LOOKALIKE_MAX_UPLOAD_BYTES with 413', async () => {
    const big = new Uint8Array(100 * 1024).fill(7);
    const res = await encode(imageForm(big));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).error.code).toBe('payload_too_large');
  });
});
