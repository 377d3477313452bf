import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { lockDataDir } from '../../data-dir-lock';
import { UserError } from '../../errors';
import { openCatalogStore, openVectorIndex } from '../../runtime';
import { migrateCollection, type MigrationReport } from '../../services/migrate';
import type { CatalogStore } from '../../stores/catalog';
import { SqliteCatalogStore } from '../../stores/sqlite/sqlite-catalog';
import { configFrom, withCollectionOption } from '../options';
import { human } from '../terminal-text';

/**
 * `lookalike migrate --to milvus|mysql|both`: moves the embedded collections (SQLite in the data
 * directory) to the scale-out stores named by MILVUS_ADDRESS / MYSQL_URL, without re-embedding:
 * every collection, or the one `--collection` names.
 */
export function migrateCommand(): Command {
  return withCollectionOption(
    new Command('migrate'),
    'migrate only this collection (default: every collection that holds a model)'
  )
    .description('copy the embedded collections to Milvus and/or MySQL without re-embedding')
    .addOption(
      new Option('--to <stores>', 'where to')
        .choices(['milvus', 'mysql', 'both'])
        .makeOptionMandatory()
    )
    .option(
      '--data-dir <dir>',
      'data directory holding the embedded collections (env LOOKALIKE_DATA_DIR)'
    )
    .action(
      async (options: {
        to: 'milvus' | 'mysql' | 'both';
        dataDir?: string;
        collection?: string;
      }) => {
        const config = configFrom(options);
        const toMilvus = options.to !== 'mysql';
        const toMysql = options.to !== 'milvus';
        if (toMilvus && !config.milvusAddress)
          throw new UserError('Set MILVUS_ADDRESS to the Milvus to migrate to');
        if (toMysql && !config.mysqlUrl)
          throw new UserError('Set MYSQL_URL to the MySQL database to migrate to');
        const catalogPath = join(config.dataDir, 'catalog.db');
        if (!existsSync(catalogPath))
          throw new UserError(
            `There is no embedded collection in ${config.dataDir} (no catalog.db there) to migrate`
          );
        // The embedded stores have one writer: a serve (or index) using them must stop first.
        const unlock = await lockDataDir(config.dataDir);
        const source = await SqliteCatalogStore.open(catalogPath).catch(async (error: unknown) => {
          await unlock();
          throw error;
        });
        let target: CatalogStore | undefined;
        try {
          const all = await source.listCollections();
          const chosen = options.collection
            ? all.filter((c) => c.name === options.collection)
            : all.filter((c) => c.model);
          if (options.collection && chosen.length === 0)
            throw new UserError(
              human`There is no collection ${options.collection} in ${config.dataDir}`
            );
          if (!chosen.some((c) => c.model))
            throw new UserError(`There is no embedded collection in ${config.dataDir} to migrate`);
          target = toMysql ? await openCatalogStore(config) : source;
          const where =
            options.to === 'both' ? 'Milvus + MySQL' : options.to === 'milvus' ? 'Milvus' : 'MySQL';
          for (const { name, model } of chosen) {
            if (!model) continue;
            const report = await migrateOne(name, model);
            process.stderr.write(
              human`\nMigrated collection ${name}: ${report.images} pictures (${report.paths} paths; ` +
                `${report.alreadyThere} were already there) to ${where}.\n`
            );
          }
          process.stderr.write(
            `Start Lookalike with ${[toMilvus && 'MILVUS_ADDRESS', toMysql && 'MYSQL_URL'].filter(Boolean).join(' and ')} set to use them.\n`
          );
        } finally {
          if (target && target !== source) await target.close();
          await source.close();
          await unlock();
        }

        async function migrateOne(
          name: string,
          model: { modelId: string; dimension: number }
        ): Promise<MigrationReport> {
          const from = await source.catalog(name);
          const summary = await target!.createCollection(name);
          const to = target === source ? from : await target!.catalog(name);
          // Recorded first, so a collection keeps its model on the target even while empty.
          await to.claimCollection(model);
          // Only Milvus needs filling: an in-process index is built from its catalog when opened.
          const index = toMilvus
            ? await openVectorIndex(
                { ...config, mysqlUrl: toMysql ? config.mysqlUrl : undefined },
                model.dimension,
                to,
                undefined,
                summary
              )
            : undefined;
          try {
            return await migrateCollection(
              from,
              { catalog: to, index },
              {
                ...model,
                onProgress: (r) =>
                  process.stderr.write(human`\r${name}: ${r.images} pictures copied`)
              }
            );
          } finally {
            await index?.close();
            if (to !== from) await to.close();
            await from.close();
          }
        }
      }
    );
}
