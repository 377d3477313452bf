import type { Command } from 'commander';
import { loadConfig, type Config } from '../config';

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

export function configFrom(options: Record<string, string | undefined>): Config {
  return loadConfig({
    model: options.model,
    modelFile: options.modelFile,
    dataDir: options.dataDir,
    threads: options.threads,
    batchSize: options.batchSize,
    port: options.port
  });
}

/** A warning nobody can miss on a terminal, for synthetic models. */
export function shout(message: string): void {
  const line = '!'.repeat(Math.min(100, message.length + 4));
  process.stderr.write(`\n${line}\n! ${message}\n${line}\n\n`);
}
