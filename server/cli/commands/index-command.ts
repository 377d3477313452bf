import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import cliProgress, { type Options as BarOptions, type Params } from 'cli-progress';
import { Command } from 'commander';
import { counterLabel, JOB_COUNTERS } from '#core/job-counters';
import { SETTINGS } from '../../config';
import { UserError } from '../../errors';
import type { JobRecord } from '../../stores/catalog';
import { configFrom, openCollection, withCollectionOption, withModelOptions } from '../options';
import {
  noteIgnoredFlags,
  runningServerFor,
  ServerAnswerError,
  type ServerClient
} from '../server-client';
import { DEFAULT_COLLECTION } from '../../stores/collection-names';
import { human } from '../terminal-text';

/** Problems listed in the summary; the rest are counted. */
const MAX_LISTED_ERRORS = 20;
// cli-progress is CommonJS: Node cannot see `Format` as a named export.
const { Format, SingleBar } = cliProgress;
/** Exit codes after a signal stopped the run, as shells report them. */
const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

interface IndexOptions {
  recursive: boolean;
  json?: boolean;
  [flag: string]: unknown;
}

/** What the signal handler may do to the progress bar. */
interface BarControls {
  cancelling(): void;
  stop(): void;
}

interface BarPayload {
  counted: boolean;
  indexed: number;
  unchanged: number;
  skipped: number;
  failed: number;
  note: string;
}

/** The running counters, in the page's words (core/job-counters). */
const COUNTERS = `| ${(['indexed', 'unchanged', 'skipped', 'failed'] as const)
  .map((key) => `${counterLabel(key).toLowerCase()} {${key}}`)
  .join(' · ')}`;
const FORMAT_COUNTED = `[{bar}] {percentage}% | {value}/{total} files ${COUNTERS} | {duration_formatted} elapsed, ETA {eta_formatted}{note}`;
const FORMAT_COUNTING = `[{bar}] {value}/{total}+ files ${COUNTERS} | {duration_formatted} elapsed{note}`;

/**
 * `lookalike index <folder…>`: the same index jobs as `POST /api/index`, one per folder, with a
 * progress bar on stderr, Ctrl-C to cancel cleanly, and a summary (or JSON) at the end.
 */
export function indexCommand(): Command {
  return withCollectionOption(
    withModelOptions(new Command('index')),
    'the collection to index into, created (with --model) when new'
  )
    .summary('index the images in folders (incrementally)')
    .description(
      'index the images in folders (incrementally: unchanged files are not read again, copies are linked, ' +
        'files gone since the last run are removed); exits 1 if any file failed'
    )
    .argument('<folders...>', 'folders (or single files) to index; each counts as allowed')
    .option('--no-recursive', 'only the files directly inside each folder, not its subfolders')
    .option('--json', 'print each finished job as one JSON line on stdout instead of the summary')
    .action(async (folders: string[], options: IndexOptions) => {
      for (const folder of folders) {
        const info = await stat(folder).catch(() => undefined);
        if (!info) throw new UserError(`No such folder or file: ${folder}`);
        if (!info.isDirectory() && !info.isFile())
          throw new UserError(`Not a folder or a file: ${folder}`);
      }
      const server = await runningServerFor(configFrom(options));
      await runJobs(
        server ? serverHost(server, options) : await localHost(options),
        folders,
        options
      );
    });
}

/** What the progress bar and the summary read of a job: a JobRecord, or the API's job JSON. */
type JobView = Pick<
  JobRecord,
  | 'state'
  | 'path'
  | 'recursive'
  | 'seen'
  | 'total'
  | 'indexed'
  | 'unchanged'
  | 'skipped'
  | 'failed'
  | 'removed'
  | 'createdAt'
  | 'finishedAt'
  | 'message'
> & { errors: readonly { path: string; reason: string }[] };

/**
 * Shows a job's progress until it finishes and returns the finished job. The total is the job's
 * own (a quick counting walk that runs alongside it); until it is known the bar counts up.
 * `updates` are the job's progress events (in process or from the server's event stream).
 */
async function follow<Finished extends JobView>(
  job: Pick<JobView, 'path' | 'recursive'>,
  updates: () => AsyncIterable<Omit<JobView, 'errors'>>,
  finished: () => Promise<Finished>,
  setBar: (controls: BarControls) => void
): Promise<Finished> {
  process.stderr.write(human`Indexing ${job.path}${job.recursive ? '' : ' (this folder only)'}\n`);
  const bar = new SingleBar({
    format: (options: BarOptions, params: Params, payload: BarPayload) =>
      Format.Formatter(
        { ...options, format: payload.counted ? FORMAT_COUNTED : FORMAT_COUNTING },
        params,
        payload
      ),
    stream: process.stderr,
    barsize: 30,
    hideCursor: true,
    emptyOnZero: true,
    etaBuffer: 50,
    // Without a terminal (CI, logs), print the bar as a line every few seconds instead.
    noTTYOutput: true,
    notTTYSchedule: 2000
  });
  const payload: BarPayload = {
    counted: false,
    indexed: 0,
    unchanged: 0,
    skipped: 0,
    failed: 0,
    note: ''
  };
  let seen = 0;
  bar.start(0, 0, payload);
  setBar({
    cancelling: () => bar.update(seen, { note: ' | cancelling after this batch…' }),
    stop: () => bar.stop()
  });
  try {
    for await (const update of updates()) {
      seen = update.seen;
      bar.setTotal(Math.max(update.total ?? 0, seen));
      bar.update(seen, { ...countersOf(update), counted: update.total !== undefined });
    }
    return await finished();
  } finally {
    bar.stop();
  }
}

/** Where the jobs run: in this process, or in the `serve` that holds the data directory. */
interface JobHost {
  start(folder: string): Promise<Pick<JobView, 'path' | 'recursive'> & { jobId: string }>;
  /** The job's progress events until it ends (its errors are listed from the finished job). */
  updates(jobId: string): AsyncIterable<Omit<JobView, 'errors'>>;
  /** The finished job, as --json prints it. */
  finished(jobId: string): Promise<JobView>;
  cancel(jobId: string): Promise<void>;
  /** "The collection" or "Collection <name>", and how many pictures it holds now. */
  label: string;
  count(): Promise<number>;
  /** Said when a second Ctrl-C exits at once. */
  abandoned: string;
  close(): Promise<void>;
}

/** Jobs in this process, as `POST /api/index` runs them; each folder counts as allowed. */
async function localHost(options: IndexOptions): Promise<JobHost> {
  const { runtime, open } = await openCollection(options, { create: true });
  const { jobs } = open;
  return {
    start: async (folder) => {
      const roots = await runtime.roots.with(folder);
      return jobs.start({ path: folder, recursive: options.recursive }, roots);
    },
    async *updates(jobId) {
      // As the web app gets them: at most ten a second.
      const events = await jobs.follow(jobId, { errorsFrom: Number.MAX_SAFE_INTEGER });
      for await (const event of events) if (event.type === 'progress') yield event.job;
    },
    finished: async (jobId) => {
      const done = await jobs.get(jobId);
      if (!done) throw new UserError(`The index job ${jobId} is gone`);
      return done;
    },
    cancel: (jobId) => jobs.cancel(jobId).then(() => undefined),
    label: open.name === DEFAULT_COLLECTION ? 'The collection' : human`Collection ${open.name}`,
    count: () => open.collection.count(),
    abandoned: 'stopping at once',
    close: () => runtime.close()
  };
}

/**
 * Jobs of a running `serve` on the same data directory: each folder becomes a job of that server
 * (POST /api/index), followed over its event stream; Ctrl-C cancels it (DELETE
 * /api/index/{jobId}). The server indexes with its own model, inside its LOOKALIKE_IMAGE_ROOTS.
 */
function serverHost(server: ServerClient, options: IndexOptions): JobHost {
  const collection = options.collection as string | undefined;
  noteIgnoredFlags(server, options);
  process.stderr.write(`Indexing through ${server.description}\n`);
  return {
    start: async (folder) => {
      // The server resolves paths against its own working directory: send the real one.
      const path = await realpath(folder);
      const jobId = await server.startIndex(collection, path, options.recursive).catch((error) => {
        // The folder exists (checked above): the server's image folders do not include it. The
        // server alone decides what it reads, so the way out is to restart it with the folder.
        if (error instanceof ServerAnswerError && [403, 404].includes(error.answerStatus))
          throw new UserError(outsideRootsHelp(server, path));
        throw error;
      });
      return { jobId, path, recursive: options.recursive };
    },
    updates: (jobId) => server.follow(collection, jobId),
    finished: (jobId) => server.job(collection, jobId),
    cancel: (jobId) => server.cancel(collection, jobId),
    label:
      !collection || collection === DEFAULT_COLLECTION
        ? 'The collection'
        : human`Collection ${collection}`,
    count: () => server.count(collection),
    abandoned: 'stopping at once (the job goes on in the server)',
    close: async () => undefined
  };
}

/**
 * Why a running server refused a folder and exactly what to do: restart it with the folder added
 * to its LOOKALIKE_IMAGE_ROOTS (the command line is spelled out from the roots it recorded), or
 * stop it and let this command index in its own process, where the folder given is allowed.
 */
export function outsideRootsHelp(server: ServerClient, folder: string): string {
  const roots = server.server.imageRoots ?? [];
  const restart = [
    ...sameServerSettings(server),
    `LOOKALIKE_IMAGE_ROOTS=${shellWord([...roots, folder].join(':'))}`,
    'npx lookalike serve'
  ].join(' ');
  const why =
    roots.length === 0
      ? 'was started without LOOKALIKE_IMAGE_ROOTS, so it may index no folder'
      : `indexes only inside its LOOKALIKE_IMAGE_ROOTS (${roots.join(':')}), which do not include ${folder}`;
  return (
    `${capitalized(server.description)} ${why}. Either stop it (Ctrl-C in its terminal, or kill ` +
    `${server.server.pid}) and start it again with the folder allowed (its other settings as before), then run this command again:\n` +
    `  ${restart}\n` +
    'or stop it and run this command on its own (it then indexes in this process).'
  );
}

/**
 * The settings that make a restarted `serve` the same server: its port and its data directory
 * where they are not the defaults (pasted without them, the line would start another server on
 * port 5000 over ./data). Other settings are the user's to keep, as the message says.
 */
function sameServerSettings(server: ServerClient): string[] {
  const settings: string[] = [];
  const url = new URL(server.server.url);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (port !== SETTINGS.port.fallback) settings.push(`PORT=${port}`);
  if (server.dataDir && resolve(server.dataDir) !== resolve(SETTINGS.dataDir.fallback))
    settings.push(`LOOKALIKE_DATA_DIR=${shellWord(resolve(server.dataDir))}`);
  return settings;
}

/** `text` as one shell word: quoted only when it has to be. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * One job per folder on `host`, each with the progress bar; the first Ctrl-C cancels the running
 * job (its finished batches are kept), a second exits at once. Exit code 1 if any file failed.
 */
async function runJobs(host: JobHost, folders: string[], options: IndexOptions): Promise<void> {
  let anyFailed = false;
  let stoppedBy: NodeJS.Signals | undefined;
  let current: string | undefined;
  let bar: BarControls | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy) {
      bar?.stop(); // restores the cursor
      process.stderr.write(`lookalike: ${host.abandoned}\n`);
      process.exit(SIGNAL_EXIT[signal] ?? 1);
    }
    stoppedBy = signal;
    bar?.cancelling();
    if (current) void host.cancel(current).catch(() => undefined);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const folder of folders) {
      if (stoppedBy) break;
      const job = await host.start(folder);
      current = job.jobId;
      // A signal that arrived while the job was being recorded.
      if (stoppedBy) await host.cancel(job.jobId);
      const finished = await follow(
        job,
        () => host.updates(job.jobId),
        () => host.finished(job.jobId),
        (controls) => (bar = controls)
      );
      current = undefined;
      bar = undefined;
      if (finished.state === 'failed' || finished.failed > 0) anyFailed = true;
      if (options.json) process.stdout.write(`${JSON.stringify(finished)}\n`);
      else process.stderr.write(summary(finished));
    }
    if (!options.json)
      process.stderr.write(`${host.label} holds ${await host.count()} picture(s).\n`);
  } finally {
    await host.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (stoppedBy) process.exitCode = SIGNAL_EXIT[stoppedBy] ?? 1;
  else if (anyFailed) process.exitCode = 1;
}

function countersOf(job: Omit<JobView, 'errors'>): Partial<BarPayload> {
  const { indexed, unchanged, skipped, failed } = job;
  return { indexed, unchanged, skipped, failed };
}

/**
 * The human summary: the counters as a table, then the problems, at most 20 of them listed (the
 * API's job JSON carries exactly the first 20).
 */
function summary(job: JobView): string {
  const seconds = ((job.finishedAt ?? Date.now()) - job.createdAt) / 1000;
  const heading = {
    done: 'Indexed',
    cancelled: 'Cancelled',
    failed: 'Failed',
    interrupted: 'Interrupted',
    queued: 'Queued',
    running: 'Running',
    paused: 'Paused'
  }[job.state];
  const width = Math.max(...JOB_COUNTERS.map(({ label }) => label.length));
  let text = human`\n${heading} ${job.path} in ${seconds.toFixed(1)} s\n`;
  if (job.message) text += human`  ${job.message}\n`;
  for (const { key, label, meaning } of JOB_COUNTERS)
    text += `  ${label.padEnd(width)} ${String(job[key]).padStart(8)}   ${meaning}\n`;
  const problems = job.skipped + job.failed;
  if (problems > 0) {
    // The page's heading for the same list.
    text += `${problems} ${problems === 1 ? 'file' : 'files'} could not be indexed:\n`;
    const listed = job.errors.slice(0, MAX_LISTED_ERRORS);
    for (const { path, reason } of listed) text += human`  ${path}: ${reason}\n`;
    if (problems > listed.length) text += `  …and ${problems - listed.length} more\n`;
  }
  return `${text}\n`;
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
