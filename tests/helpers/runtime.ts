import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../server/config';
import { createRuntime, type Runtime } from '../../server/runtime';
import { TEST_MODEL_CACHE } from './models';

/** A full runtime (real SQLite, real usearch, real model) in a fresh temp data directory. */
export async function testRuntime(
  options: {
    model?: 'tiny' | 'synthetic-resnet50';
    roots?: string[];
    dataDir?: string;
    env?: Record<string, string>;
  } = {}
): Promise<{ runtime: Runtime; config: Config; dataDir: string; cleanup: () => Promise<void> }> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'lookalike-data-')));
  const config = loadConfig(
    { model: options.model ?? 'tiny', dataDir },
    {
      LOOKALIKE_MODEL_CACHE: TEST_MODEL_CACHE,
      LOOKALIKE_IMAGE_ROOTS: (options.roots ?? []).join(':'),
      LOOKALIKE_THREADS: '2',
      ...options.env
    }
  );
  const runtime = await createRuntime(config);
  return {
    runtime,
    config,
    dataDir,
    cleanup: async () => {
      await runtime.close().catch(() => undefined);
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    }
  };
}
