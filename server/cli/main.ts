import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config';
import { ModelUnavailableError } from '../models/resolve-model';
import { embedCommand } from './commands/embed';
import { modelCommand } from './commands/model';
import { serveCommand } from './commands/serve';

const program = new Command('lookalike')
  .description('Reverse image search: index folders of photos, find the most similar images.')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(modelCommand());
program.addCommand(embedCommand());
program.addCommand(serveCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  // Expected failures get one clear line; anything else keeps its stack for a bug report.
  const expected =
    error instanceof ConfigError ||
    error instanceof ModelUnavailableError ||
    (error instanceof Error && error.name === 'ModelDownloadError');
  process.stderr.write(
    `lookalike: ${expected ? (error as Error).message : String((error as Error)?.stack ?? error)}\n`
  );
  process.exit(1);
}
