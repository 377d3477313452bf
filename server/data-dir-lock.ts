import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UserError } from './errors';

/** The data directory is being used by another live process. */
export class DataDirInUseError extends UserError {
  override name = 'DataDirInUseError';
  override readonly status = 409;
  override readonly code = 'data_dir_in_use';
}

const alive = (pid: number) => {
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
  const path = join(dataDir, 'lookalike.lock');
  const me = JSON.stringify({ host: hostname(), pid: process.pid });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(me);
      await file.close();
      return async () => {
        if ((await readFile(path, 'utf8').catch(() => '')) === me) await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = JSON.parse((await readFile(path, 'utf8').catch(() => '')) || '{}') as {
        host?: string;
        pid?: number;
      };
      const sameHost = holder.host === hostname();
      if (sameHost && holder.pid !== undefined && holder.pid !== process.pid && alive(holder.pid)) {
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
