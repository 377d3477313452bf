import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ModelManifest } from '#core/model-manifest';
import { generateResnet50, type GeneratedGraph } from './resnet50';
import { generateTiny } from './tiny';

/**
 * Bump whenever a generator or seed changes: it is part of the cached file's name, so a stale
 * generated model is never reused.
 */
export const GENERATOR_VERSION = 1;

/** Seeds are part of the contract: the same id always yields the same bytes. */
const SEEDS = { resnet50: 50, tiny: 7 } as const;

export function generateModelBytes(manifest: ModelManifest): GeneratedGraph {
  const common = {
    inputName: manifest.input.name ?? 'input',
    outputName: manifest.output.name ?? 'output',
    inputSize: manifest.input.width
  };
  if (manifest.input.width !== manifest.input.height || manifest.input.layout !== 'NCHW') {
    throw new Error(`Generated models take square NCHW input; ${manifest.id} asks otherwise`);
  }
  switch (manifest.generator) {
    case 'resnet50':
      return generateResnet50({ ...common, seed: SEEDS.resnet50 });
    case 'tiny':
      return generateTiny({ ...common, seed: SEEDS.tiny, dimension: manifest.dimension });
    default:
      throw new Error(`Model ${manifest.id} is not a generated model`);
  }
}

/**
 * Returns the path of a generated model in the cache, building it first if it is missing.
 * Written under a temporary name and renamed, so a crash never leaves a half-written model.
 */
export async function ensureGeneratedModel(manifest: ModelManifest, path: string): Promise<string> {
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isFile() && existing.size > 0) return path;
  const { bytes } = generateModelBytes(manifest);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  return path;
}
