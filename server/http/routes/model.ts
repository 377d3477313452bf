import { stat } from 'node:fs/promises';
import { createRoute, z } from '@hono/zod-openapi';
import type { ActiveModel } from '../../models/resolve-model';
import type { Runtime } from '../../runtime';
import { createRouter } from '../context';
import { sendFile } from '../file-response';
import { BinarySchema, errors } from '../schemas';

/**
 * A version for the model file: its published SHA-256 when the file is the verified download,
 * otherwise its size and mtime (a generated or hand-supplied file has no checked hash).
 */
export async function modelFileVersion(model: ActiveModel): Promise<string> {
  if (model.source === 'cache' && model.manifest.file.sha256) return model.manifest.file.sha256;
  const info = await stat(model.path);
  return `${info.size}-${Math.floor(info.mtimeMs)}`;
}

const ModelSchema = z
  .looseObject({
    id: z.string(),
    name: z.string(),
    dimension: z.int(),
    synthetic: z.boolean(),
    warning: z.string().optional(),
    fileUrl: z.string().openapi({ example: '/api/model/file?v=2c1b…' })
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
    summary: "The active model's ONNX file",
    description: 'Immutable for a given `v` (use `fileUrl` from GET /api/model).',
    request: { query: z.object({ v: z.string().max(200).optional() }) },
    responses: {
      200: {
        description: 'ONNX file',
        content: { 'application/octet-stream': { schema: BinarySchema } }
      },
      304: { description: 'Not modified' },
      ...errors(404, 416)
    }
  });

  return createRouter()
    .openapi(manifest, async (c) => {
      const version = await modelFileVersion(model);
      return c.json(
        {
          ...model.manifest,
          synthetic: model.manifest.synthetic,
          ...(model.warning ? { warning: model.warning } : {}),
          fileUrl: `/api/model/file?v=${encodeURIComponent(version)}`
        },
        200
      );
    })
    .openapi(file, async (c) =>
      sendFile(c, {
        path: model.path,
        contentType: 'application/octet-stream',
        etag: `"${await modelFileVersion(model)}"`,
        cacheControl: 'public, max-age=31536000, immutable'
      })
    );
}
