import { Command } from 'commander';
import type { Config } from '../../config';
import { lockDataDir } from '../../data-dir-lock';
import { openCatalogStore } from '../../runtime';
import { DEFAULT_COLLECTION } from '../../stores/collection-names';
import { configFrom, requireCatalog, withDataDirOption } from '../options';
import { runningServerFor } from '../server-client';
import { human } from '../terminal-text';

/**
 * `lookalike collections`: the named collections of the data directory (or MySQL database), with
 * their models and sizes. Reads the catalog only: no model is loaded.
 */
export function collectionsCommand(): Command {
  return withDataDirOption(new Command('collections'))
    .description('list the collections, with the model that builds each and its picture count')
    .option('--json', 'print [{ name, model, images, default }] as JSON')
    .action(async (options: { json?: boolean; dataDir?: string }) => {
      const config = configFrom(options);
      requireCatalog(config);
      const server = await runningServerFor(config);
      const rows = server ? await server.collections() : await readCollections(config);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
        return;
      }
      const width = Math.max(10, ...rows.map((r) => r.name.length));
      // The page's word (its switcher says "3 pictures"); --json keeps the API's field names.
      process.stdout.write(`${'name'.padEnd(width)}  ${'pictures'.padStart(8)}  model\n`);
      for (const r of rows) {
        const model = r.model ? `${r.model.id} (${r.model.dimension}-d)` : '(none yet)';
        process.stdout.write(
          human`${r.name.padEnd(width)}  ${String(r.images).padStart(8)}  ${model}\n`
        );
      }
    });
}

/** The catalog's collections, read under the data directory's lock (no model is loaded). */
async function readCollections(config: Config) {
  const unlock = await lockDataDir(config.dataDir);
  try {
    const store = await openCatalogStore(config);
    try {
      return (await store.listCollections()).map((c) => ({
        name: c.name,
        model: c.model ? { id: c.model.modelId, dimension: c.model.dimension } : null,
        images: c.images,
        default: c.name === DEFAULT_COLLECTION
      }));
    } finally {
      await store.close();
    }
  } finally {
    await unlock();
  }
}
