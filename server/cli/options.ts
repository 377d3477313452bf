import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../config';
import { createLogger } from '../log';
import { createRuntime, type Runtime } from '../runtime';

/** The flags every model-using command shares; each falls back to its environment variable. */
export function withModelOptions(command: Command): Command {
  return command
    .option('--model <id>', 'model id from models/ (env LOOKALIKE_MODEL)')
    .option(
      '--model-file <path>',
      'use this ONNX file instead of the cache (env LOOKALIKE_MODEL_FILE)'
    )
    .option('--data-dir <dir>', 'data directory (env LOOKALIKE_DATA_DIR, default ./data)')
    .option('--threads <n>', 'inference threads (env LOOKALIKE_THREADS, default: all cores)')
    .option('--batch-size <n>', 'images per model call (env LOOKALIKE_BATCH_SIZE, default 8)');
}

export function configFrom(options: Record<string, unknown>): Config {
  const flag = (key: string) => {
    const value = options[key];
    return typeof value === 'string' ? value : undefined;
  };
  return loadConfig({
    model: flag('model'),
    modelFile: flag('modelFile'),
    dataDir: flag('dataDir'),
    threads: flag('threads'),
    batchSize: flag('batchSize'),
    port: flag('port')
  });
}

/**
 * The full runtime (model, stores, jobs) for the commands that touch the collection. Logs go to
 * stderr as JSON at `warn` unless LOG_LEVEL asks for more, so they never bury command output.
 * With `warn`, a synthetic model is announced where nobody can miss it.
 */
export async function openRuntime(
  options: Record<string, unknown>,
  { warn = true }: { warn?: boolean } = {}
): Promise<Runtime> {
  const config = configFrom(options);
  const log = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn');
  const runtime = await createRuntime(config, log);
  if (warn && runtime.model.warning) shout(runtime.model.warning);
  return runtime;
}

/** A commander argument parser for an integer in [min, max]. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`Expected a whole number from ${min} to ${max}.`);
    return n;
  };
}

/** A commander argument parser for a number in [min, max]. */
export function numberIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`Expected a number from ${min} to ${max}.`);
    return n;
  };
}

/** A warning nobody can miss on a terminal, for synthetic models. */
export function shout(message: string): void {
  const line = '!'.repeat(Math.min(100, message.length + 4));
  process.stderr.write(`\n${line}\n! ${message}\n${line}\n\n`);
}
