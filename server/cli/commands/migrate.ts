import { join } from 'node:path';
import { Command, Option } from 'commander';
import { UserError } from '../../errors';
import { openCatalog, openVectorIndex } from '../../runtime';
import { migrateCollection } from '../../services/migrate';
import { SqliteCatalog } from '../../stores/sqlite/sqlite-catalog';
import { configFrom } from '../options';

/**
 * `lookalike migrate --to milvus|mysql|both`: moves the embedded collection (SQLite in the data
 * directory) to the scale-out stores named by MILVUS_ADDRESS / MYSQL_URL, without re-embedding.
 */
export function migrateCommand(): Command {
  return new Command('migrate')
    .description('copy the embedded collection to Milvus and/or MySQL without re-embedding')
    .addOption(
      new Option('--to <stores>', 'where to')
        .choices(['milvus', 'mysql', 'both'])
        .makeOptionMandatory()
    )
    .option(
      '--data-dir <dir>',
      'data directory holding the embedded collection (env LOOKALIKE_DATA_DIR)'
    )
    .action(async (options: { to: 'milvus' | 'mysql' | 'both'; dataDir?: string }) => {
      const config = configFrom(options);
      const toMilvus = options.to !== 'mysql';
      const toMysql = options.to !== 'milvus';
      if (toMilvus && !config.milvusAddress)
        throw new UserError('Set MILVUS_ADDRESS to the Milvus to migrate to');
      if (toMysql && !config.mysqlUrl)
        throw new UserError('Set MYSQL_URL to the MySQL database to migrate to');
      const source = await SqliteCatalog.open(join(config.dataDir, 'catalog.db'));
      const model = await source.collectionModel();
      if (!model) {
        await source.close();
        throw new UserError(`There is no embedded collection in ${config.dataDir} to migrate`);
      }
      const targetCatalog = toMysql ? await openCatalog(config) : source;
      // Only Milvus needs filling: an in-process index is built from its catalog when opened.
      const targetIndex = toMilvus
        ? await openVectorIndex(
            { ...config, mysqlUrl: toMysql ? config.mysqlUrl : undefined },
            model.dimension,
            targetCatalog
          )
        : undefined;
      try {
        const report = await migrateCollection(
          source,
          { catalog: targetCatalog, index: targetIndex },
          {
            ...model,
            onProgress: (r) => process.stderr.write(`\r${r.images} pictures copied`)
          }
        );
        process.stderr.write(
          `\nMigrated ${report.images} pictures (${report.paths} paths; ${report.alreadyThere} were already there) ` +
            `to ${options.to === 'both' ? 'Milvus + MySQL' : options.to === 'milvus' ? 'Milvus' : 'MySQL'}.\n` +
            `Start Lookalike with ${[toMilvus && 'MILVUS_ADDRESS', toMysql && 'MYSQL_URL'].filter(Boolean).join(' and ')} set to use them.\n`
        );
      } finally {
        await targetIndex?.close();
        if (targetCatalog !== source) await targetCatalog.close();
        await source.close();
      }
    });
}
