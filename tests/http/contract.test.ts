import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { API_TYPES_FILE, apiTypesSource, openApiDocument } from '../../scripts/api-types';
import {
  JobErrorsEventSchema,
  JobErrorsPageSchema,
  JobSchema,
  SearchResponseSchema,
  type ErrorBody,
  type JobErrorsEventJson,
  type JobErrorsPageJson,
  type JobJson,
  type JobProgressJson,
  type SearchHit as ServerSearchHit
} from '../../server/http/schemas';
import { ApiRequestError, api, dataOf } from '../../src/lib/api/client';
import {
  cancelIndexJob,
  clearCollection,
  createCollection,
  deleteCollection,
  listCollections,
  fetchImageCount,
  fetchIndexJob,
  fetchIndexJobErrors,
  listIndexJobs,
  startIndexJob
} from '../../src/lib/api/collection';
import type {
  ApiError,
  IndexJob,
  IndexJobErrorsEvent,
  IndexJobErrorsPage,
  IndexJobProgress,
  ApiSearchHit
} from '../../src/lib/api/types';
import { REPO_ROOT } from '../helpers/cli';
import { startTestServer, writeScenes, type TestServer } from './helpers';

/**
 * One HTTP contract: the zod schemas in server/http make /api/openapi.json, which makes the page's
 * types (src/lib/api/openapi.d.ts, scripts/api-types.ts) and so its client. A field changed in a
 * schema fails here until the page's types are generated again, and then fails the page's type
 * check wherever the page relied on the old shape.
 */

/*
 * The page's types equal the server's inferred ones, whether or not the file was generated again:
 * checked by `tsc` and `npm run check` (these calls do nothing at run time).
 */
expectTypeOf<ApiError>().toEqualTypeOf<ErrorBody>();
// The page's own SearchHit also holds offline results, which lack some fields: not compared.
expectTypeOf<ApiSearchHit>().toEqualTypeOf<ServerSearchHit>();
expectTypeOf<IndexJobProgress>().toEqualTypeOf<JobProgressJson>();
// The document spells IndexJob as IndexJobProgress & {errors}: compared key by key.
expectTypeOf<{ [K in keyof IndexJob]: IndexJob[K] }>().toEqualTypeOf<JobJson>();
expectTypeOf<IndexJobErrorsEvent>().toEqualTypeOf<JobErrorsEventJson>();
expectTypeOf<IndexJobErrorsPage>().toEqualTypeOf<JobErrorsPageJson>();

describe('the page’s API types', () => {
  it('are what the current OpenAPI document generates (else: npx tsx scripts/api-types.ts)', async () => {
    const committed = await readFile(API_TYPES_FILE, 'utf8');
    const current = await apiTypesSource(await openApiDocument());
    expect(
      current === committed,
      `${relative(REPO_ROOT, API_TYPES_FILE)} is stale: run npx tsx scripts/api-types.ts`
    ).toBe(true);
  }, 60_000);

  it('come from the generated file only: the page imports nothing from the server', async () => {
    const files = await readdir(join(REPO_ROOT, 'src'), { recursive: true });
    const offenders: string[] = [];
    for (const file of files.filter((name) => /\.(ts|svelte)$/.test(name))) {
      const text = await readFile(join(REPO_ROOT, 'src', file), 'utf8');
      if (/from\s+['"](\.\.\/)+server\//.test(text)) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });
});

/** The page's own calls (src/lib/api), answered by the real app; strict schemas catch extra keys. */
describe('the page’s client against the server', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
    await writeScenes(join(server.imagesRoot, 'pictures'), 3);
    vi.stubGlobal('fetch', (input: Request) => server.app.request(input));
  });

  afterAll(async () => {
    vi.unstubAllGlobals();
    await server?.close();
  });

  it('indexes, follows and lists a job in the documented shapes', async () => {
    const jobId = await startIndexJob(join(server.imagesRoot, 'pictures'), true);
    let job = await fetchIndexJob(jobId);
    for (let i = 0; i < 400 && !['done', 'failed'].includes(job.state); i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      job = await fetchIndexJob(jobId);
    }
    expect(job).toMatchObject({ jobId, state: 'done', indexed: 3 });
    expect(JobSchema.strict().parse(job)).toEqual(job);

    const [listed] = await listIndexJobs(1);
    expect(listed).toEqual(job);
    const page = await fetchIndexJobErrors(jobId, 0, 10);
    expect(JobErrorsPageSchema.strict().parse(page)).toEqual({ total: 0, offset: 0, errors: [] });
    expect(JobErrorsEventSchema.strict().safeParse({ offset: 0, errors: [] }).success).toBe(true);
    expect(await fetchImageCount()).toBe(3);
    // Cancelling a finished job leaves it as it is.
    await expect(cancelIndexJob(jobId)).resolves.toMatchObject({ jobId, state: 'done' });
  });

  it('searches with the typed body and gets the documented hits', async () => {
    const dimension = server.runtime.model.manifest.dimension;
    const vector = Array.from({ length: dimension }, (_, i) => (i % 3) - 1);
    const body = dataOf(await api.POST('/api/search', { body: { vector, topK: 2 } }));
    expect(SearchResponseSchema.strict().parse(body)).toEqual(body);
    expect(body.results).toHaveLength(2);
  });

  it('turns the server’s error body into ApiRequestError with its code and message', async () => {
    const error = await fetchIndexJob('no-such-job').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiRequestError);
    expect(error).toMatchObject({ status: 404, code: 'not_found' });
    // A folder outside the allowed image roots: the server's own message reaches the page.
    await expect(startIndexJob(server.base, true)).rejects.toMatchObject({
      status: 404,
      message: expect.stringMatching(/^No such folder or file/)
    });
  });

  it('creates, lists, indexes into and deletes a named collection', async () => {
    await createCollection('second', 'synthetic-resnet50');
    const jobId = await startIndexJob(join(server.imagesRoot, 'pictures'), true, 'second');
    let job = await fetchIndexJob(jobId, 'second');
    for (let i = 0; i < 800 && !['done', 'failed'].includes(job.state); i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      job = await fetchIndexJob(jobId, 'second');
    }
    expect(job).toMatchObject({ state: 'done', indexed: 3 });
    expect(await listCollections()).toEqual([
      { name: 'default', model: { id: 'tiny', dimension: 128 }, images: 3, default: true },
      {
        name: 'second',
        model: { id: 'synthetic-resnet50', dimension: 2048 },
        images: 3,
        default: false
      }
    ]);
    expect(await fetchImageCount('second')).toBe(3);
    await deleteCollection('second');
    await expect(fetchImageCount('second')).rejects.toMatchObject({
      status: 404,
      code: 'collection_not_found'
    });
  });

  it('clears the collection', async () => {
    await clearCollection();
    expect(await fetchImageCount()).toBe(0);
  });
});
