import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRoute, z } from '@hono/zod-openapi';
import type { ActiveModel } from '../../models/resolve-model';
import type { Runtime } from '../../runtime';
import { createRouter } from '../context';
import { sendFile } from '../file-response';
import { BinarySchema, errors } from '../schemas';

/** The file browsers download: the float16 copy when the import wrote one, else the model. */
export const browserModelFile = (model: ActiveModel): string => model.browserPath ?? model.path;

const hashes = new Map<string, { stamp: string; sha256: string }>();

/** SHA-256 of a file, computed once per size and mtime (the browser copy is a few MB). */
async function sha256Of(path: string): Promise<string> {
  const info = await stat(path);
  const stamp = `${info.size}-${info.mtimeMs}`;
  const known = hashes.get(path);
  if (known?.stamp === stamp) return known.sha256;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const sha256 = hash.digest('hex');
  hashes.set(path, { stamp, sha256 });
  return sha256;
}

/**
 * The SHA-256 browsers check the downloaded file against: the browser copy's own hash, or the
 * published hash of a verified download. A generated or hand-supplied file has none.
 */
export async function modelFileSha256(model: ActiveModel): Promise<string | undefined> {
  if (model.browserPath) return sha256Of(model.browserPath);
  if (model.source === 'cache' && model.manifest.file.sha256) return model.manifest.file.sha256;
  return undefined;
}

/**
 * A version for the browsers' model file: its SHA-256 when known, otherwise its size and mtime.
 */
export async function modelFileVersion(model: ActiveModel): Promise<string> {
  const sha256 = await modelFileSha256(model);
  if (sha256) return sha256;
  const info = await stat(browserModelFile(model));
  return `${info.size}-${Math.floor(info.mtimeMs)}`;
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

export function modelRoutes({ model }: Runtime) {
  const manifest = createRoute({
    method: 'get',
    path: '/model',
    tags: ['model'],
    summary: 'The active model manifest',
    responses: {
      200: { description: 'Manifest', content: { 'application/json': { schema: ModelSchema } } }
    }
  });

  const file = createRoute({
    method: 'get',
    path: '/model/file',
    tags: ['model'],
    summary: "The active model's ONNX file for browsers",
    description:
      'Immutable for a given `v` (use `fileUrl` from GET /api/model). A smaller copy with the ' +
      "same vectors (float16 weights) when the model's import wrote one, else the model itself.",
    request: { query: z.object({ v: z.string().max(200).optional() }) },
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
      const version = await modelFileVersion(model);
      const sha256 = await modelFileSha256(model);
      return c.json(
        {
          ...model.manifest,
          synthetic: model.manifest.synthetic,
          ...(model.warning ? { warning: model.warning } : {}),
          fileUrl: `/api/model/file?v=${encodeURIComponent(version)}`,
          fileBytes: (await stat(browserModelFile(model))).size,
          ...(sha256 ? { fileSha256: sha256 } : {})
        },
        200
      );
    })
    .openapi(file, async (c) =>
      sendFile(c, {
        path: browserModelFile(model),
        contentType: 'application/octet-stream',
        etag: `"${await modelFileVersion(model)}"`,
        cacheControl: 'public, max-age=31536000, immutable'
      })
    );
}
