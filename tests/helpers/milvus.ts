import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { MilvusClient } from '@zilliz/milvus2-sdk-node';

/**
 * Milvus for the tests: a server at LOOKALIKE_TEST_MILVUS_ADDRESS (default 127.0.0.1:19530), or
 * Milvus Lite started by tests/infra/milvus/start.sh when nothing answers there, and private
 * Milvus Lite processes on free ports for the restart tests.
 */
export const TEST_MILVUS_ADDRESS = process.env.LOOKALIKE_TEST_MILVUS_ADDRESS || '127.0.0.1:19530';

const run = promisify(execFile);
const INFRA = resolve(import.meta.dirname, '../infra/milvus');
const START = join(INFRA, 'start.sh');
const SERVE = join(INFRA, 'serve.py');

/**
 * True when a Milvus server answers a health check at `address` within `timeoutMs` (tried again
 * every 250 ms until then).
 */
export async function milvusAnswers(address: string, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = Math.max(500, deadline - Date.now());
    const client = new MilvusClient({
      address,
      timeout: left,
      logLevel: 'error',
      // Its own connections: a shared one may still be backing off from an earlier refusal.
      channelOptions: { 'grpc.use_local_subchannel_pool': 1 }
    });
    try {
      await client.connectPromise;
      const health = await client.checkHealth();
      if (health.isHealthy !== false) return true;
    } catch {
      // not (yet) answering
    } finally {
      void client.closeConnection().catch(() => undefined);
    }
    if (Date.now() + 250 >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export type TestMilvus =
  | { address: string; startedHere: boolean; stop: () => Promise<void> }
  | { address: undefined; reason: string };

/**
 * The Milvus the tests use: the one answering at TEST_MILVUS_ADDRESS, or Milvus Lite started
 * there by start.sh (loopback addresses only). Test files share that server, so no file stops
 * it: it exits by itself when the whole test run (vitest's main process) ends, and `stop` does
 * nothing. Without a server, `reason` says why.
 */
export async function testMilvus(address = TEST_MILVUS_ADDRESS): Promise<TestMilvus> {
  const stop = async () => undefined;
  if (await milvusAnswers(address)) return { address, startedHere: false, stop };
  const match = /^(?:https?:\/\/)?(127\.0\.0\.1|localhost):(\d+)$/.exec(address);
  if (!match)
    return { address: undefined, reason: `no Milvus answers at ${address} (not a local address)` };
  const env = {
    ...process.env,
    MILVUS_HOST: '127.0.0.1',
    MILVUS_PORT: match[2],
    MILVUS_PARENT_PID: String(testRunPid())
  };
  try {
    // start.sh takes a lock, so parallel test files start one server between them.
    await run('bash', [START], { env, timeout: 600_000 });
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    return {
      address: undefined,
      reason:
        `no Milvus answers at ${address}, and tests/infra/milvus/start.sh could not start ` +
        `Milvus Lite: ${(stderr || message).trim().split('\n').slice(-5).join(' | ')}`
    };
  }
  if (!(await milvusAnswers(address, 10_000)))
    return {
      address: undefined,
      reason: `Milvus Lite started at ${address} but does not answer a health check`
    };
  return { address, startedHere: true, stop };
}

/**
 * The process whose end ends the test run: vitest's main process when this is a forked worker
 * (it has an IPC channel to it), else this process (worker threads, or no vitest at all).
 */
function testRunPid(): number {
  return process.env.VITEST && typeof process.send === 'function' ? process.ppid : process.pid;
}

/** The Milvus Lite venv's python (created by start.sh when missing), or why there is none. */
export async function milvusLitePython(): Promise<{ python: string } | { reason: string }> {
  try {
    const { stdout } = await run('bash', [START, 'venv'], { timeout: 600_000 });
    return { python: stdout.trim().split('\n').pop()! };
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    return {
      reason: `could not set up the Milvus Lite venv: ${(stderr || message).trim().split('\n').join(' | ')}`
    };
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * A Milvus Lite process of this test's own: `stop` it (SIGTERM: clean shutdown, SIGKILL: a
 * crash) and `start` it again on the same port and data directory. It exits with this process.
 */
export class PrivateMilvusLite {
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(
    readonly python: string,
    readonly port: number,
    readonly dataDir: string
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && !this.#child.killed;
  }

  static async start(python: string): Promise<PrivateMilvusLite> {
    const dataDir = await mkdtemp(join(tmpdir(), 'lookalike-milvus-lite-'));
    const server = new PrivateMilvusLite(python, await freePort(), dataDir);
    await server.start();
    return server;
  }

  /** Starts the process and waits for its ready line. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error('Milvus Lite is already running');
    this.#log = '';
    const args = [SERVE, '--host', '127.0.0.1', '--port', String(this.port)];
    args.push('--data-dir', this.dataDir, '--parent-pid', String(process.pid));
    const child = spawn(this.python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const collect = (chunk: Buffer) => {
      this.#log = (this.#log + chunk.toString()).slice(-4000);
    };
    child.stderr!.on('data', collect);
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`Milvus Lite not ready after ${timeoutMs} ms: ${this.#log}`));
      }, timeoutMs);
      child.stdout!.on('data', (chunk: Buffer) => {
        collect(chunk);
        if (this.#log.includes('MILVUS_LITE_READY')) {
          clearTimeout(timer);
          resolveReady();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(`Milvus Lite exited (${signal ?? code}) before it was ready: ${this.#log}`)
        );
      });
    });
  }

  /** Stops the process: SIGTERM shuts it down cleanly, SIGKILL is a crash. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
    child.kill(signal);
    await exited;
  }

  /** Stops it and deletes its data. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** A collection name no other test (or test run) uses. */
export function uniqueCollectionName(prefix = 'lk_test'): string {
  const random = Math.random().toString(36).slice(2, 8);
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${random}`;
}

/** Runs `use` with a client of its own, closed afterwards. */
export async function withMilvusClient<T>(
  address: string,
  use: (client: MilvusClient) => Promise<T>
): Promise<T> {
  const client = new MilvusClient({
    address,
    timeout: 10_000,
    logLevel: 'error',
    channelOptions: { 'grpc.use_local_subchannel_pool': 1 }
  });
  try {
    await client.connectPromise;
    return await use(client);
  } finally {
    await client.closeConnection().catch(() => undefined);
  }
}

/** Drops a test collection (if it exists). */
export async function dropCollection(address: string, collection: string): Promise<void> {
  await withMilvusClient(address, async (client) => {
    const has = await client.hasCollection({ collection_name: collection });
    if (has.value) await client.dropCollection({ collection_name: collection });
  });
}
