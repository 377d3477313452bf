import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors';
import { GENERATOR_VERSION } from './generate';
import { parseModelManifest, type ModelManifest } from '#core/model-manifest';

/** The real ImageNet ResNet-50 every install should end up using. */
export const DEFAULT_MODEL_ID = 'resnet50';
/** The real ImageNet model pip can get on machines where ResNet-50 cannot be downloaded. */
export const PIP_MODEL_ID = 'efficientnet-lite0';
/** What runs when the real model has not been fetched yet, so the app can always be tried. */
export const FALLBACK_MODEL_ID = 'synthetic-resnet50';

export const MANIFEST_DIR = fileURLToPath(new URL('../../models/', import.meta.url));

let cached: Map<string, ModelManifest> | undefined;

/** All manifests in `models/`, validated; a broken manifest fails loudly at start-up. */
export function listManifests(): ModelManifest[] {
  if (!cached) {
    cached = new Map();
    for (const file of readdirSync(MANIFEST_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort()) {
      const manifest = parseModelManifest(
        JSON.parse(readFileSync(join(MANIFEST_DIR, file), 'utf8')),
        `manifest models/${file}`
      );
      if (`${manifest.id}.json` !== file) {
        throw new Error(
          `models/${file} declares id "${manifest.id}"; name the file ${manifest.id}.json`
        );
      }
      cached.set(manifest.id, manifest);
    }
  }
  return [...cached.values()];
}

export function getManifest(id: string): ModelManifest {
  const manifest = listManifests().find((m) => m.id === id);
  if (!manifest) {
    const known = listManifests()
      .map((m) => m.id)
      .join(', ');
    throw new UserError(`Unknown model "${id}". Known models: ${known}`);
  }
  return manifest;
}

/** Where a model's file lives in the cache; generated ones carry their generator's version. */
export function cachedModelPath(cacheDir: string, manifest: ModelManifest): string {
  const suffix = manifest.synthetic ? `.gen${GENERATOR_VERSION}` : '';
  return join(cacheDir, `${manifest.id}${suffix}.onnx`);
}

/**
 * Where an imported model's smaller browser copy (float16 weights, float32 compute) is written,
 * beside the full-precision file.
 */
export function browserModelPath(cacheDir: string, manifest: ModelManifest): string {
  return join(cacheDir, `${manifest.id}.fp16.onnx`);
}

/**
 * The file to send to browsers for a cached model: its float16 copy when the import wrote one,
 * otherwise undefined (send the model file itself).
 */
export async function cachedBrowserModel(
  cacheDir: string,
  manifest: ModelManifest
): Promise<string | undefined> {
  const path = browserModelPath(cacheDir, manifest);
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() && info.size > 0 ? path : undefined;
}
