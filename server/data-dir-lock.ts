import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from './errors';
import { claimFile, isProcessAlive } from './file-claim';

/** The data directory is being used by another live process. */
export class DataDirInUseError extends UserError {
  override name = 'DataDirInUseError';
  override readonly status = 409;
  override readonly code = 'data_dir_in_use';
}

export const LOCK_FILE = 'lookalike.lock';

/**
 * How a CLI command reaches the `lookalike serve` that holds a data directory: serve records its
 * address next to the lock once it listens and removes the record when it stops. The record may
 * hold the admin token, so only its owner may read it (who can read the catalog beside it anyway).
 */
export const SERVER_FILE = 'lookalike.server.json';

const RunningServerSchema = z.object({
  /** The address serve printed ("Lookalike on …"). */
  url: z.url(),
  pid: z.number().int().positive(),
  host: z.string(),
  /** The server's LOOKALIKE_ADMIN_TOKEN, if it has one: writes through its API need it. */
  adminToken: z.string().optional(),
  /** The certificate file an HTTPS server serves: the CLI trusts exactly that certificate. */
  tlsCert: z.string().optional(),
  /**
   * LOOKALIKE_IMAGE_ROOTS as the server was started with them, so that `index` can say exactly how
   * to restart it when a folder is outside them (the server alone decides what it reads).
   */
  imageRoots: z.array(z.string()).optional()
});
export type RunningServer = z.infer<typeof RunningServerSchema>;

/**
 * One process at a time per embedded data directory: SQLite and the HNSW snapshot have one
 * writer, and a second process would also take the first one's running jobs for crashed ones.
 * The lock is a claim file (host and pid) taken over at once when its process is gone. Within one
 * process it is shared and counted: serve locks before its first model download, then the runtime
 * locks again, and the file goes only when the last of them unlocks.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  const claim = await claimFile(path, { shareWithinProcess: true });
  if (claim.claimed) return claim.release;
  const { host, pid, otherHost } = claim.holder;
  if (otherHost) {
    throw new DataDirInUseError(
      `The data directory ${dataDir} is locked by ${host} (pid ${pid}); if that ` +
        `machine no longer uses it, delete ${path}.`
    );
  }
  if (pid === undefined) throw new DataDirInUseError(`Could not lock ${dataDir}`);
  const server = await findRunningServer(dataDir);
  if (server?.pid === pid) {
    throw new DataDirInUseError(
      `The data directory ${dataDir} is in use by \`lookalike serve\` on ${server.url} ` +
        `(pid ${server.pid}): stop it first (Ctrl-C in its terminal, or kill ${server.pid}).`
    );
  }
  throw new DataDirInUseError(
    `The data directory ${dataDir} is in use by process ${pid} (a running ` +
      '`lookalike serve` or `index`?). Use its HTTP API, stop it, or choose another LOOKALIKE_DATA_DIR.'
  );
}

/**
 * Records this process as the server of the data directory; returns the function that removes
 * the record (only while it is still this process's). serve calls it once it listens (with the
 * starting page during a first model download too), and the remover when it stops.
 */
export async function recordRunningServer(
  dataDir: string,
  server: { url: string; adminToken?: string; tlsCert?: string; imageRoots?: readonly string[] }
): Promise<() => Promise<void>> {
  const path = join(dataDir, SERVER_FILE);
  const record: RunningServer = {
    url: server.url,
    pid: process.pid,
    host: hostname(),
    ...(server.adminToken ? { adminToken: server.adminToken } : {}),
    ...(server.tlsCert ? { tlsCert: server.tlsCert } : {}),
    ...(server.imageRoots ? { imageRoots: [...server.imageRoots] } : {})
  };
  const text = JSON.stringify(record);
  // A record a crashed server left behind is replaced; the mode is set before any byte is written.
  await mkdir(dataDir, { recursive: true });
  await rm(path, { force: true });
  const file = await open(path, 'wx', 0o600);
  try {
    await file.writeFile(text);
  } finally {
    await file.close();
  }
  return async () => {
    if ((await readFile(path, 'utf8').catch(() => '')) === text) await rm(path, { force: true });
  };
}

/**
 * The live `serve` recorded in the data directory, or undefined: no record, one left by a process
 * that is gone (or whose pid now belongs to a process that does not hold the lock), or one written
 * on another machine sharing the folder.
 */
export async function findRunningServer(dataDir: string): Promise<RunningServer | undefined> {
  const text = await readFile(join(dataDir, SERVER_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const record = RunningServerSchema.safeParse(parsed);
  if (!record.success) return undefined;
  const { host, pid } = record.data;
  if (host !== hostname() || pid === process.pid || !isProcessAlive(pid)) return undefined;
  // The server holds the lock while it serves: a record whose pid was reused by another process
  // after a crash is not believed.
  const lock = await readFile(join(dataDir, LOCK_FILE), 'utf8').catch(() => '');
  if (lock !== JSON.stringify({ host, pid })) return undefined;
  return record.data;
}
