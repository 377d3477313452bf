import type { ModelManifest } from '#core/model-manifest';
import type { components } from './openapi';

/**
 * Shapes of the server's JSON API as the page uses them, named after the OpenAPI document's
 * components: openapi.d.ts is generated from the server's zod schemas (scripts/api-types.ts), so
 * nothing here is written out by hand.
 */
type Schemas = components['schemas'];

export type ApiError = Schemas['Error'];
/** A search result as the server answers it. */
export type ApiSearchHit = Schemas['SearchHit'];
/** What the server knows of a hit but the offline copy (core/snapshot.ts) does not keep. */
type ServerOnlyHitFields = 'paths' | 'contentHash' | 'dhash';
/**
 * A search result as the page holds it: the server's answer, or one from the offline copy, which
 * knows only the first path and neither hash (so the page shows what is known).
 */
export type SearchHit = Omit<ApiSearchHit, ServerOnlyHitFields> &
  Partial<Pick<ApiSearchHit, ServerOnlyHitFields>>;
export type SearchResponse = Schemas['SearchResponse'];
export type SnapshotVersion = Schemas['SnapshotVersion'];

/** GET /api/health once the server is up. */
export type Health = Schemas['Health'];
/** GET /api/health while the server gets ready (its first start downloads the model). */
export type StartingHealth = Schemas['StartingHealth'];

/** Where a result list came from: the live server, or the snapshot kept on this device. */
export type SearchSource =
  { kind: 'server' } | { kind: 'offline'; snapshotVersion: string; savedAt: number; count: number };

/**
 * GET /api/model: the manifest the browser encodes with (the server sends it whole; the document
 * lists only the fields it adds and leaves the rest open), plus where its ONNX file is.
 */
export type ModelInfo = ModelManifest &
  Pick<Schemas['Model'], 'synthetic' | 'warning' | 'fileUrl' | 'fileBytes' | 'fileSha256'>;

export type JobState = Schemas['IndexJobProgress']['state'];

/** States a job does not leave. */
export const FINISHED_JOB_STATES: readonly JobState[] = [
  'done',
  'failed',
  'cancelled',
  'interrupted'
];

/** A job's state and counters: what its event stream's progress (unnamed) events carry. */
export type IndexJobProgress = Schemas['IndexJobProgress'];
export type IndexJobError = Schemas['IndexJobError'];
/** GET /api/index/{jobId}: the progress and the first errors. */
export type IndexJob = Schemas['IndexJob'];
/** An `errors` event: errors added since the last event; `offset` is the first one's index. */
export type IndexJobErrorsEvent = Schemas['IndexJobErrorsEvent'];
/** GET /api/index/{jobId}/errors. */
export type IndexJobErrorsPage = Schemas['IndexJobErrors'];
