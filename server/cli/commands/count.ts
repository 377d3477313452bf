import { Command } from 'commander';
import { openRuntime, withModelOptions } from '../options';

/** `lookalike count`: how many distinct pictures the collection holds. */
export function countCommand(): Command {
  return withModelOptions(new Command('count'))
    .description('print the number of distinct pictures in the collection')
    .action(async (options: Record<string, unknown>) => {
      const runtime = await openRuntime(options, { warn: false });
      try {
        process.stdout.write(`${await runtime.collection.count()}\n`);
      } finally {
        await runtime.close();
      }
    });
}
