import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

/**
 * A claim on a file shared by processes: the data directory's lock, a model download's `.part`.
 * The claim is a file created exclusively that records host and pid; a claim whose process is
 * gone (a crash) is taken over at once.
 */

/** Who holds a claim that was refused. */
export interface ClaimHolder {
  host: string | undefined;
  pid: number | undefined;
  /** The holder is this very process (another caller in it claimed the file first). */
  thisProcess: boolean;
  /** The holder runs on another machine sharing the folder: whether it is alive is unknown. */
  otherHost: boolean;
}

export type ClaimResult =
  { claimed: true; release: () => Promise<void> } | { claimed: false; holder: ClaimHolder };

export interface ClaimOptions {
  /**
   * Whether a second claim from this process shares the first one. Shared claims are counted and
   * the file is removed when the last one is released (serve locks its data directory before its
   * first model download, and the runtime it then opens locks it again). An unshared one (a
   * download's `.part`, which two writers would ruin) is refused like any other live holder's.
   */
  shareWithinProcess: boolean;
}

export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * The claims this process holds, and how many callers share each. A claim file naming this pid
 * but missing here was left by an earlier process that had the same pid (a container's pid 1
 * after a crash), so it is stale, not ours.
 */
const heldHere = new Map<string, number>();

/**
 * Claims and releases of one file run one after another within this process, so that two callers
 * racing for it never both see it free (or one read the other's half-written record as stale).
 */
const inTurn = new Map<string, Promise<void>>();

async function oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
  const before = inTurn.get(key) ?? Promise.resolve();
  const run = before.then(work);
  const done = run.then(
    () => undefined,
    () => undefined
  );
  inTurn.set(key, done);
  try {
    return await run;
  } finally {
    if (inTurn.get(key) === done) inTurn.delete(key);
  }
}

export function claimFile(path: string, options: ClaimOptions): Promise<ClaimResult> {
  const key = resolve(path);
  return oneAtATime(key, () => claimInTurn(key, options));
}

async function claimInTurn(key: string, options: ClaimOptions): Promise<ClaimResult> {
  const me = JSON.stringify({ host: hostname(), pid: process.pid });
  const held = heldHere.get(key);
  // Only while the file still names this process: one deleted and re-created by another process
  // (someone removed a lock they thought stale) is that process's now.
  const stillOurs = held !== undefined && (await readFile(key, 'utf8').catch(() => '')) === me;
  if (held !== undefined && stillOurs) {
    if (!options.shareWithinProcess) {
      return {
        claimed: false,
        holder: { host: hostname(), pid: process.pid, thisProcess: true, otherHost: false }
      };
    }
    heldHere.set(key, held + 1);
    return { claimed: true, release: releaser(key, me) };
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(key, me, { flag: 'wx' });
      heldHere.set(key, (heldHere.get(key) ?? 0) + 1);
      return { claimed: true, release: releaser(key, me) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = parseHolder(await readFile(key, 'utf8').catch(() => ''));
    const otherHost = holder.host !== undefined && holder.host !== hostname();
    const live =
      otherHost ||
      (holder.pid !== undefined && holder.pid !== process.pid && isProcessAlive(holder.pid));
    if (live) return { claimed: false, holder: { ...holder, thisProcess: false, otherHost } };
    await rm(key, { force: true }); // left by a process that is gone
  }
  return {
    claimed: false,
    holder: { host: undefined, pid: undefined, thisProcess: false, otherHost: false }
  };
}

/**
 * Releases one caller's share, once however often it is called; the last share removes the file
 * while it still names this process (never another process's claim).
 */
function releaser(key: string, me: string): () => Promise<void> {
  let released = false;
  return () =>
    oneAtATime(key, async () => {
      if (released) return;
      released = true;
      const left = (heldHere.get(key) ?? 1) - 1;
      if (left > 0) {
        heldHere.set(key, left);
        return;
      }
      heldHere.delete(key);
      if ((await readFile(key, 'utf8').catch(() => '')) === me) await rm(key, { force: true });
    });
}

function parseHolder(text: string): { host: string | undefined; pid: number | undefined } {
  try {
    const { host, pid } = JSON.parse(text) as { host?: unknown; pid?: unknown };
    return {
      host: typeof host === 'string' ? host : undefined,
      pid: typeof pid === 'number' ? pid : undefined
    };
  } catch {
    return { host: undefined, pid: undefined };
  }
}
