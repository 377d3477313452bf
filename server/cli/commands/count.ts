import { Command } from 'commander';
import {
  configFrom,
  openCollection,
  requireCatalog,
  withCollectionOption,
  withDataDirOption,
  withModelChoice
} from '../options';
import { noteIgnoredFlags, runningServerFor } from '../server-client';

/**
 * `lookalike count`: how many distinct pictures the collection holds; asked of the running
 * `serve` when one holds the data directory.
 */
export function countCommand(): Command {
  return withCollectionOption(
    withDataDirOption(withModelChoice(new Command('count'), { listed: false }))
  )
    .description('print the number of distinct pictures in the collection')
    .action(async (options: { collection?: string; dataDir?: string; [flag: string]: unknown }) => {
      const config = configFrom(options);
      requireCatalog(config);
      const server = await runningServerFor(config);
      if (server) {
        noteIgnoredFlags(server, options);
        process.stdout.write(`${await server.count(options.collection)}\n`);
        return;
      }
      const { runtime, open } = await openCollection(options, { warn: false });
      try {
        process.stdout.write(`${await open.collection.count()}\n`);
      } finally {
        await runtime.close();
      }
    });
}
