import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig, type Config } from '../config';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CollectionMismatchError, UserError } from '../errors';
import { createLogger } from '../log';
import { createRuntime, type Runtime } from '../runtime';
import type { OpenCollection } from '../services/collections';
import { DEFAULT_COLLECTION, isCollectionName } from '../stores/collection-names';

/** `--data-dir`, for every command that reads or writes a data directory. */
export function withDataDirOption(command: Command): Command {
  return command.option(
    '--data-dir <dir>',
    'data directory (env LOOKALIKE_DATA_DIR, default ./data)'
  );
}

/**
 * The flags of the commands that run the model: which model, and how to run it. `batch: false`
 * hides `--batch-size` (it only matters to commands that embed many images); `listed: false`
 * hides them all, for the commands that compute no embedding. Hidden flags are still accepted,
 * so scripts written before keep working (`--model` still checks the collection's model).
 */
export function withModelChoice(
  command: Command,
  { batch = true, listed = true }: { batch?: boolean; listed?: boolean } = {}
): Command {
  const add = (flags: string, description: string, shown = listed) =>
    command.addOption(new Option(flags, description).hideHelp(!shown));
  add('--model <id>', 'model id from models/ (env LOOKALIKE_MODEL)');
  add('--model-file <path>', 'use this ONNX file instead of the cache (env LOOKALIKE_MODEL_FILE)');
  add('--threads <n>', 'inference threads (env LOOKALIKE_THREADS, default: all cores)');
  add(
    '--batch-size <n>',
    'images per model call (env LOOKALIKE_BATCH_SIZE, default 8)',
    listed && batch
  );
  return command;
}

/** The flags every model-using command shares; each falls back to its environment variable. */
export function withModelOptions(command: Command): Command {
  return withDataDirOption(withModelChoice(command));
}

/** `--collection <name>`, for the commands that work on one collection. */
export function withCollectionOption(command: Command, what = 'the collection to use'): Command {
  return command.option(
    '--collection <name>',
    `${what} (default "${DEFAULT_COLLECTION}"; \`lookalike collections\` lists them)`,
    collectionName
  );
}

function collectionName(value: string): string {
  if (!isCollectionName(value))
    throw new InvalidArgumentError(
      'A collection name is 1 to 64 letters, digits, "_" or "-", not starting with "-".'
    );
  return value;
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

/**
 * The runtime and the collection `--collection` names. For the default collection that is
 * openRuntime as before. For another one, `--model` (or LOOKALIKE_MODEL) is that collection's
 * model, not the default's: a new collection (with `create`) gets it, an existing one must have
 * it. Without `create`, a name that does not exist is an error.
 */
export async function openCollection(
  options: Record<string, unknown>,
  { warn = true, create = false }: { warn?: boolean; create?: boolean } = {}
): Promise<{ runtime: Runtime; open: OpenCollection }> {
  const name = typeof options.collection === 'string' ? options.collection : DEFAULT_COLLECTION;
  if (name === DEFAULT_COLLECTION) {
    const runtime = await openRuntime(options, { warn });
    return { runtime, open: runtime.collections.defaultCollection };
  }
  const config = configFrom(options);
  if (config.modelFile)
    throw new UserError('--model-file applies to the default collection only; use --model <id>');
  const log = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn');
  // The default collection keeps its own model; the one asked for is this collection's.
  const runtime = await createRuntime({ ...config, model: undefined }, log);
  try {
    const requested = config.model;
    let open: OpenCollection | undefined;
    if (create) open = (await runtime.collections.create(name, { model: requested })).open;
    else {
      open = await runtime.collections.get(name);
      if (!open)
        throw new UserError(
          `There is no collection "${name}" (lookalike collections lists them; indexing into a ` +
            'name creates it).'
        );
      const has = open.model.manifest.id;
      if (requested && requested !== has)
        throw new CollectionMismatchError(
          `Collection "${name}" is built by model "${has}", not "${requested}": leave --model out.`
        );
    }
    if (warn && open.model.warning) shout(open.model.warning);
    return { runtime, open };
  } catch (error) {
    await runtime.close();
    throw error;
  }
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

/**
 * For the commands that only read: a data directory without a catalog is a mistyped
 * `--data-dir` (or LOOKALIKE_DATA_DIR), not a wish for a new collection. Checked before anything
 * (the lock included) creates the folder. Only for the embedded stores: with MYSQL_URL the
 * catalog lives elsewhere, and with MILVUS_ADDRESS an unreachable Milvus is the first thing to
 * report (the stores are opened, and checked, before anything else).
 */
export function requireCatalog(config: Config): void {
  if (config.mysqlUrl || config.milvusAddress) return;
  if (existsSync(join(config.dataDir, 'catalog.db'))) return;
  throw new UserError(
    `There is no collection in ${config.dataDir} (no catalog.db there): check --data-dir or ` +
      'LOOKALIKE_DATA_DIR, or index a folder first (lookalike index <folder>).'
  );
}
