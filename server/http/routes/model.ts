import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRoute, z } from '@hono/zod-openapi';
import type { ActiveModel } from '../../models/resolve-model';
import type { Runtime } from '../../runtime';
import { DEFAULT_COLLECTION } from '../../stores/collection-names';
import { collectionScope, CollectionQuerySchema } from '../collection-scope';
import { createRouter } from '../context';
import { sendFile } from '../file-response';
import { BinarySchema, errors } from '../schemas';

const hashes = new Map<string, { stamp: string; sha256: string }>();

/** SHA-256 of a file, computed once per size and mtime (the browser copy is a few MB). */
async function sha256Of(path: string, stamp: string): Promise<string> {
  const known = hashes.get(path);
  if (known?.stamp === stamp) return known.sha256;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const sha256 = hash.digest('hex');
  hashes.set(path, { stamp, sha256 });
  return sha256;
}

export interface BrowserModelFile {
  /** The float16 copy when the import wrote one, else the model itself. */
  path: string;
  bytes: number;
  /**
   * What browsers check the download against: the browser copy's own hash, or the published
   * hash of a verified download. A generated or hand-supplied file has none.
   */
  sha256?: string;
  /** Its SHA-256 when known, otherwise its size and mtime: part of the immutable file URL. */
  version: string;
}

/** The file browsers download to encode queries, described from one stat. */
export async function browserModelFile(model: ActiveModel): Promise<BrowserModelFile> {
  const path = model.browserPath ?? model.path;
  const info = await stat(path);
  const sha256 = model.browserPath
    ? await sha256Of(path, `${info.size}-${info.mtimeMs}`)
    : model.source === 'cache'
      ? model.manifest.file.sha256
      : undefined;
  const version = sha256 ?? `${info.size}-${Math.floor(info.mtimeMs)}`;
  return { path, bytes: info.size, version, ...(sha256 ? { sha256 } : {}) };
}

const ModelSchema = z
  .looseObject({
    id: z.string(),
    name: z.string(),
    dimension: z.int(),
    synthetic: z.boolean(),
    warning: z.string().optional(),
    fileUrl: z.string().openapi({ example: '/api/model/file?v=2c1b…' }),
    fileBytes: z.int().openapi({ description: 'Size of the file at fileUrl' }),
    fileSha256: z.string().optional().openapi({
      description: 'SHA-256 of the file at fileUrl, when known: check it after download'
    })
  })
  .openapi('Model', {
    description:
      'The active model manifest (models/<id>.json: input, preprocess, output …) plus where to ' +
      'download its ONNX file; the browser encodes queries with exactly this contract.'
  });

export function modelRoutes(runtime: Runtime) {
  const manifest = createRoute({
    method: 'get',
    path: '/model',
    tags: ['model'],
    summary: "The collection's model manifest",
    description: "Each collection has its own model; the default collection has the server's.",
    request: { query: CollectionQuerySchema },
    responses: {
      200: { description: 'Manifest', content: { 'application/json': { schema: ModelSchema } } },
      ...errors(400, 404)
    }
  });

  const file = createRoute({
    method: 'get',
    path: '/model/file',
    tags: ['model'],
    summary: "The collection's model's ONNX file for browsers",
    description:
      'Immutable for a given `v` (use `fileUrl` from GET /api/model). A smaller copy with the ' +
      "same vectors (float16 weights) when the model's import wrote one, else the model itself.",
    request: {
      query: CollectionQuerySchema.extend({ v: z.string().max(200).optional() })
    },
    responses: {
      200: {
        description: 'ONNX file',
        content: { 'application/octet-stream': { schema: BinarySchema } }
      },
      304: { description: 'Not modified' },
      ...errors(400, 404, 416)
    }
  });

  return createRouter()
    .openapi(manifest, async (c) => {
      const { collection } = c.req.valid('query');
      const { model, name } = await collectionScope(runtime, collection);
      const download = await browserModelFile(model);
      const scoped = name === DEFAULT_COLLECTION ? '' : `&collection=${encodeURIComponent(name)}`;
      return c.json(
        {
          ...model.manifest,
          synthetic: model.manifest.synthetic,
          ...(model.warning ? { warning: model.warning } : {}),
          fileUrl: `/api/model/file?v=${encodeURIComponent(download.version)}${scoped}`,
          fileBytes: download.bytes,
          ...(download.sha256 ? { fileSha256: download.sha256 } : {})
        },
        200
      );
    })
    .openapi(file, async (c) => {
      const { model } = await collectionScope(runtime, c.req.valid('query').collection);
      const { path, version } = await browserModelFile(model);
      return sendFile(c, {
        path,
        contentType: 'application/octet-stream',
        etag: `"${version}"`,
        cacheControl: 'public, max-age=31536000, immutable'
      });
    });
}
