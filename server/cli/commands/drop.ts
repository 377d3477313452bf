import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { UserError } from '../../errors';
import { openRuntime, withModelOptions } from '../options';
import { human } from '../terminal-text';

/** `lookalike drop`: empties the collection, after a confirmation. */
export function dropCommand(): Command {
  return withModelOptions(new Command('drop'))
    .description('remove every picture from the collection (the image files are not touched)')
    .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
    .action(async (options: { yes?: boolean; [flag: string]: unknown }) => {
      const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
      if (!options.yes && !interactive) {
        throw new UserError(
          'Refusing to drop the collection without confirmation: run it in a terminal, or pass --yes.'
        );
      }
      const runtime = await openRuntime(options, { warn: false });
      try {
        const count = await runtime.collection.count();
        if (!options.yes) {
          const prompt = createInterface({ input: process.stdin, output: process.stderr });
          // Ctrl-C at the prompt rejects with an AbortError: the same as "no", exit 130.
          const answer = await prompt
            .question(
              human`Remove all ${count} picture(s) from the collection in ${runtime.config.dataDir}? [y/N] `
            )
            .catch((error: unknown) => {
              if ((error as Error)?.name !== 'AbortError') throw error;
              process.stderr.write('\n');
              process.exitCode = 130;
              return 'n';
            })
            .finally(() => prompt.close());
          if (!/^y(es)?$/i.test(answer.trim())) {
            process.stderr.write('Nothing removed.\n');
            return;
          }
        }
        await runtime.collection.clear();
        process.stderr.write(`Removed ${count} picture(s); the collection is empty.\n`);
      } finally {
        await runtime.close();
      }
    });
}
