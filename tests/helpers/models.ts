import { resolve } from 'node:path';
import { ensureGeneratedModel } from '../../server/models/generate';
import { cachedModelPath, getManifest } from '../../server/models/registry';

/** Generated models are shared by every test run (and kept between runs) in this folder. */
export const TEST_MODEL_CACHE = resolve(import.meta.dirname, '../../.cache/models');

export async function testModel(id: 'tiny' | 'synthetic-resnet50') {
  const manifest = getManifest(id);
  const path = await ensureGeneratedModel(manifest, cachedModelPath(TEST_MODEL_CACHE, manifest));
  return { manifest, path };
}
