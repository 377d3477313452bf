import { Command } from 'commander';
import { openCollection, withCollectionOption, withModelOptions } from '../options';

/** `lookalike count`: how many distinct pictures the collection holds. */
export function countCommand(): Command {
  return withCollectionOption(withModelOptions(new Command('count')))
    .description('print the number of distinct pictures in the collection')
    .action(async (options: Record<string, unknown>) => {
      const { runtime, open } = await openCollection(options, { warn: false });
      try {
        process.stdout.write(`${await open.collection.count()}\n`);
      } finally {
        await runtime.close();
      }
    });
}
