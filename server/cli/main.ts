import { Command, CommanderError } from 'commander';
import { UserError } from '../errors';
import { collectionsCommand } from './commands/collections';
import { countCommand } from './commands/count';
import { doctorCommand } from './commands/doctor';
import { dropCommand } from './commands/drop';
import { migrateCommand } from './commands/migrate';
import { duplicatesCommand } from './commands/duplicates';
import { embedCommand } from './commands/embed';
import { indexCommand } from './commands/index-command';
import { modelCommand } from './commands/model';
import { searchCommand } from './commands/search';
import { serveCommand } from './commands/serve';
import { terminalText } from './terminal-text';

const program = new Command('lookalike')
  .description('Reverse image search: index folders of photos, find the most similar images.')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(indexCommand());
program.addCommand(searchCommand());
program.addCommand(duplicatesCommand());
program.addCommand(countCommand());
program.addCommand(collectionsCommand());
program.addCommand(dropCommand());
program.addCommand(doctorCommand());
program.addCommand(migrateCommand());
program.addCommand(modelCommand());
program.addCommand(embedCommand());
program.addCommand(serveCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  // Expected failures (a store that is down included) get one clear line; anything else keeps
  // its stack for a bug report. Either may quote a file name: its control characters are escaped.
  const text =
    error instanceof UserError ? error.message : String((error as Error)?.stack ?? error);
  process.stderr.write(`lookalike: ${terminalText(text, { keepLineFeeds: true })}\n`);
  process.exit(1);
}
