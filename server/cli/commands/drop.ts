import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { UserError } from '../../errors';
import { DEFAULT_COLLECTION } from '../../stores/collection-names';
import {
  openCollection,
  withCollectionOption,
  withDataDirOption,
  withModelChoice
} from '../options';
import { human } from '../terminal-text';

/**
 * `lookalike drop`: empties the default collection, or deletes a named one (`--collection`),
 * after a confirmation.
 */
export function dropCommand(): Command {
  return withCollectionOption(
    withDataDirOption(withModelChoice(new Command('drop'), { listed: false })),
    'the collection to delete (the default one is emptied instead)'
  )
    .description(
      'remove every picture from the collection; a named collection (--collection) is deleted ' +
        'with its vectors and jobs (the image files are not touched)'
    )
    .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
    .action(async (options: { yes?: boolean; [flag: string]: unknown }) => {
      const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
      if (!options.yes && !interactive) {
        throw new UserError(
          'Refusing to drop the collection without confirmation: run it in a terminal, or pass --yes.'
        );
      }
      const { runtime, open } = await openCollection(options, { warn: false });
      const named = open.name !== DEFAULT_COLLECTION;
      try {
        const count = await open.collection.count();
        if (!options.yes) {
          const prompt = createInterface({ input: process.stdin, output: process.stderr });
          const question = named
            ? human`Delete collection ${open.name} and its ${count} picture(s) in ${runtime.config.dataDir}? [y/N] `
            : human`Remove all ${count} picture(s) from the collection in ${runtime.config.dataDir}? [y/N] `;
          // Ctrl-C at the prompt rejects with an AbortError: the same as "no", exit 130.
          const answer = await prompt
            .question(question)
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
        if (named) {
          await runtime.collections.delete(open.name);
          process.stderr.write(human`Deleted collection ${open.name} (${count} picture(s)).\n`);
        } else {
          await open.collection.clear();
          process.stderr.write(`Removed ${count} picture(s); the collection is empty.\n`);
        }
      } finally {
        await runtime.close();
      }
    });
}
