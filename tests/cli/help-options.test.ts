import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { collectionsCommand } from '../../server/cli/commands/collections';
import { countCommand } from '../../server/cli/commands/count';
import { doctorCommand } from '../../server/cli/commands/doctor';
import { dropCommand } from '../../server/cli/commands/drop';
import { duplicatesCommand } from '../../server/cli/commands/duplicates';
import { embedCommand } from '../../server/cli/commands/embed';
import { indexCommand } from '../../server/cli/commands/index-command';
import { migrateCommand } from '../../server/cli/commands/migrate';
import { searchCommand } from '../../server/cli/commands/search';

/**
 * Each command's `--help` lists the options it uses and no other: a flag that is accepted and
 * then ignored (a model for a command that computes nothing) is a lie on the help page.
 */
const MODEL = ['--model', '--model-file', '--threads', '--batch-size'];

const cases: { make: () => Command; shows: string[]; hides: string[] }[] = [
  {
    make: countCommand,
    shows: ['--data-dir', '--collection'],
    hides: [...MODEL, '--json']
  },
  {
    make: collectionsCommand,
    shows: ['--data-dir', '--json'],
    hides: [...MODEL, '--collection']
  },
  {
    make: searchCommand,
    shows: [
      '--data-dir',
      '--collection',
      '--model',
      '--model-file',
      '--threads',
      '--top-k',
      '--json'
    ],
    hides: ['--batch-size']
  },
  {
    make: duplicatesCommand,
    shows: ['--data-dir', '--collection', '--threshold', '--hamming-max', '--neighbours', '--json'],
    hides: MODEL
  },
  {
    make: doctorCommand,
    shows: ['--data-dir', '--json'],
    hides: [...MODEL, '--collection']
  },
  {
    make: dropCommand,
    shows: ['--data-dir', '--collection', '--yes'],
    hides: [...MODEL, '--json']
  },
  {
    make: indexCommand,
    shows: ['--data-dir', '--collection', ...MODEL, '--no-recursive', '--json'],
    hides: []
  },
  {
    make: embedCommand,
    // --data-dir: the model cache is <data dir>/models unless LOOKALIKE_MODEL_CACHE says.
    shows: ['--data-dir', ...MODEL],
    hides: ['--collection', '--json']
  },
  {
    make: migrateCommand,
    shows: ['--to', '--data-dir', '--collection'],
    hides: [...MODEL, '--json']
  }
];

/** The long flags the help lists, e.g. ["--data-dir", "--json"]. */
function listedFlags(command: Command): string[] {
  return [...command.helpInformation().matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!);
}

describe('--help of each command', () => {
  for (const { make, shows, hides } of cases) {
    it(`${make().name()}: lists ${shows.join(' ')}${hides.length ? `, not ${hides.join(' ')}` : ''}`, () => {
      const flags = listedFlags(make());
      for (const flag of shows) expect(flags, make().helpInformation()).toContain(flag);
      for (const flag of hides) expect(flags, make().helpInformation()).not.toContain(flag);
    });
  }
});
