import type { ModelManifest } from '#core/model-manifest';

/** Shapes of the server's JSON API as the web app uses them (see /api/openapi.json). */

export interface ApiError {
  error: { code: string; message: string };
}

export interface SearchHit {
  id: number;
  path: string;
  /** Cosine similarity, 1 = identical. */
  score: number;
  width: number;
  height: number;
  imageUrl: string;
  thumbUrl: string;
}

export interface SearchResponse {
  results: SearchHit[];
  tookMs: number;
}

/** Where a result list came from: the live server, or the snapshot kept on this device. */
export type SearchSource =
  { kind: 'server' } | { kind: 'offline'; snapshotVersion: string; savedAt: number; count: number };

/** GET /api/model: the manifest the browser encodes with, plus where its ONNX file is. */
export type ModelInfo = ModelManifest & {
  synthetic: boolean;
  warning?: string;
  /** Immutable URL of the ONNX file; changes when the file changes. */
  fileUrl: string;
  /** Size of that file: a float16 copy of the model when the server has one. */
  fileBytes: number;
  /** Its SHA-256 when the server knows it; the download is checked against it. */
  fileSha256?: string;
};

export type JobState =
  'queued' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled' | 'interrupted';

export const FINISHED_JOB_STATES: readonly JobState[] = [
  'done',
  'failed',
  'cancelled',
  'interrupted'
];

/** A job's state and counters: what its event stream's progress events carry. */
export interface IndexJobProgress {
  jobId: string;
  state: JobState;
  path: string;
  recursive: boolean;
  seen: number;
  /** Files to look at, from a quick count before indexing; absent until known. */
  total?: number;
  indexed: number;
  unchanged: number;
  skipped: number;
  failed: number;
  removed: number;
  /** Per-file errors listed for the job (the first 1000 problems); paged from `/errors`. */
  errorCount: number;
  createdAt: number;
  finishedAt?: number;
  message?: string;
}

export interface IndexJobError {
  path: string;
  reason: string;
}

/** GET /api/index/:jobId: the progress and the first 20 errors. */
export interface IndexJob extends IndexJobProgress {
  errors: IndexJobError[];
}

/** An `errors` event: errors added since the last event; `offset` is the first one's index. */
export interface IndexJobErrorsEvent {
  offset: number;
  errors: IndexJobError[];
}

/** GET /api/index/:jobId/errors. */
export interface IndexJobErrorsPage {
  total: number;
  offset: number;
  errors: IndexJobError[];
}
