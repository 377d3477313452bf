import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TEST_MODEL_CACHE } from './models';

/** Runs the real CLI (`node bin/lookalike.js …`) in a child process, the way a user would. */

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const CLI_BIN = join(REPO_ROOT, 'bin/lookalike.js');

export interface CliOptions {
  /**
   * Extra environment variables; `undefined` removes a variable, e.g.
   * `{ LOOKALIKE_MODEL_CACHE: undefined }` to use `<data dir>/models` as the cache.
   */
  env?: Record<string, string | undefined>;
  /** LOOKALIKE_DATA_DIR; a fresh temporary folder when left out (see cleanupCliTempDirs). */
  dataDir?: string;
  /** The child is killed (SIGKILL) after this long. Default 60 000. */
  timeoutMs?: number;
  cwd?: string;
}

export interface CliResult {
  /** Exit code; null when the process was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the helper killed the process for running past timeoutMs. */
  timedOut: boolean;
  /** Wall time from spawn to exit. */
  ms: number;
  dataDir: string;
}

export interface CliProcess {
  child: ChildProcess;
  dataDir: string;
  stdout(): string;
  stderr(): string;
  /** Resolves once the process has exited (or was killed at the timeout). */
  exited: Promise<CliResult>;
  /**
   * Resolves with the match as soon as stderr matches `pattern`; rejects if the process exits
   * first or nothing matches within `timeoutMs`.
   */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

const tempDirs: string[] = [];

/** Removes every data directory the helper created. Call it from afterAll. */
export async function cleanupCliTempDirs(): Promise<void> {
  const dirs = tempDirs.splice(0);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

/** A temporary folder removed by cleanupCliTempDirs. */
export async function cliTempDir(prefix = 'lookalike-cli-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * The child's environment: the parent's minus any Lookalike setting (so a developer's shell does
 * not leak into the test), plus the shared test model cache and the data dir, plus `env`.
 */
function childEnv(dataDir: string, extra: CliOptions['env'] = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('LOOKALIKE_') || ['PORT', 'HOST', 'LOG_LEVEL'].includes(key)) continue;
    env[key] = value;
  }
  env.LOOKALIKE_MODEL_CACHE = TEST_MODEL_CACHE;
  env.LOOKALIKE_DATA_DIR = dataDir;
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Starts the CLI and returns at once, for long-running commands such as `serve`. */
export async function startCli(
  args: readonly string[],
  options: CliOptions = {}
): Promise<CliProcess> {
  const dataDir = options.dataDir ?? (await cliTempDir('lookalike-cli-data-'));
  const started = performance.now();
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: childEnv(dataDir, options.env),
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let stdout = '';
  let stderr = '';
  const stderrListeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const listener of stderrListeners) listener();
  });

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 60_000);

  const exited = new Promise<CliResult>((resolvePromise, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // 'close' (not 'exit') so that stdout and stderr have been read to the end.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout,
        stderr,
        timedOut,
        ms: performance.now() - started,
        dataDir
      });
    });
  });

  const waitForStderr = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<RegExpMatchArray>((resolvePromise, reject) => {
      const done = () => {
        clearTimeout(giveUp);
        stderrListeners.delete(check);
      };
      const check = () => {
        const match = stderr.match(pattern);
        if (match) {
          done();
          resolvePromise(match);
        }
      };
      const giveUp = setTimeout(() => {
        done();
        reject(new Error(`stderr did not match ${pattern} within ${timeoutMs} ms:\n${stderr}`));
      }, timeoutMs);
      stderrListeners.add(check);
      void exited.then(
        (result) => {
          done();
          reject(
            new Error(
              `CLI exited (code ${result.code}) before stderr matched ${pattern}:\n${stderr}`
            )
          );
        },
        (error: unknown) => {
          done();
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      );
      check();
    });

  return { child, dataDir, stdout: () => stdout, stderr: () => stderr, exited, waitForStderr };
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runCli(
  args: readonly string[],
  options: CliOptions = {}
): Promise<CliResult> {
  return (await startCli(args, options)).exited;
}
