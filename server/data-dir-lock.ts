import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from './errors';

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

export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * One process at a time per embedded data directory: SQLite and the HNSW snapshot have one
 * writer, and a second process would also take the first one's running jobs for crashed ones.
 * The lock file holds host and pid; a lock whose process is gone (a crash) is taken over at once.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  const me = JSON.stringify({ host: hostname(), pid: process.pid });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(me);
      await file.close();
      return unlockIfMine(path, me);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = JSON.parse((await readFile(path, 'utf8').catch(() => '')) || '{}') as {
        host?: string;
        pid?: number;
      };
      const sameHost = holder.host === hostname();
      // This process holds it already (serve locks before its first download, then the runtime
      // locks again): share it rather than delete and re-create it, which would leave a moment
      // with no lock for another process to take.
      if (sameHost && holder.pid === process.pid) return unlockIfMine(path, me);
      if (
        sameHost &&
        holder.pid !== undefined &&
        holder.pid !== process.pid &&
        isProcessAlive(holder.pid)
      ) {
        const server = await findRunningServer(dataDir);
        if (server?.pid === holder.pid) {
          throw new DataDirInUseError(
            `The data directory ${dataDir} is in use by \`lookalike serve\` on ${server.url} ` +
              `(pid ${server.pid}): stop it first (Ctrl-C in its terminal, or kill ${server.pid}).`
          );
        }
        throw new DataDirInUseError(
          `The data directory ${dataDir} is in use by process ${holder.pid} (a running ` +
            '`lookalike serve` or `index`?). Use its HTTP API, stop it, or choose another LOOKALIKE_DATA_DIR.'
        );
      }
      if (!sameHost && holder.host) {
        throw new DataDirInUseError(
          `The data directory ${dataDir} is locked by ${holder.host} (pid ${holder.pid}); if that ` +
            `machine no longer uses it, delete ${path}.`
        );
      }
      await rm(path, { force: true }); // left by a process that is gone
    }
  }
  throw new DataDirInUseError(`Could not lock ${dataDir}`);
}

/** Removes the lock file while it still names this process (never another one's lock). */
function unlockIfMine(path: string, me: string): () => Promise<void> {
  return async () => {
    if ((await readFile(path, 'utf8').catch(() => '')) === me) await rm(path, { force: true });
  };
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
