import { dirname } from 'node:path';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import type { Logger } from 'pino';
import type { ModelManifest } from '#core/model-manifest';
import type { Config } from '../../config';
import { createApp } from '../../http/app';
import type { StartingHealth } from '../../http/routes/health';
import { createStartingApp } from '../../http/starting-app';
import { createLogger } from '../../log';
import { ModelDownloadError } from '../../models/download';
import {
  downloadDefaultModel,
  noDownloadHelp,
  planDefaultDownload,
  type FirstRunDownload
} from '../../models/first-run';
import { writeBrowserCopy } from '../../models/float16-copy';
import { browserModelPath, DEFAULT_MODEL_ID, getManifest } from '../../models/registry';
import { createRuntime, openCatalog, type Runtime } from '../../runtime';
import { lockDataDir } from '../../data-dir-lock';
import { configFrom, shout, withModelOptions } from '../options';

/** How long shutdown may take (cancelling jobs, saving the index) before exiting anyway. */
const SHUTDOWN_GRACE_MS = 15_000;

/** Relative to the package, so `npx lookalike serve` works from any directory. */
const STATIC_DIR = fileURLToPath(new URL('../../../build', import.meta.url));

/** What the server calls per request; swapped once the real app is ready. */
type Fetch = Parameters<typeof serve>[0]['fetch'];

export interface StartServerOptions {
  staticDir?: string;
  /** The model a first start downloads; the manifest's `resnet50` unless a test gives another. */
  defaultManifest?: ModelManifest;
  /** Aborts a first-start download (Ctrl-C); the partial file is kept for the next start. */
  signal?: AbortSignal;
  /** Terminal messages; stderr by default. */
  write?: (text: string) => void;
}

export interface StartedServer {
  server: Server;
  runtime: Runtime;
  /** The address it answers on, e.g. http://localhost:5000. */
  url: string;
}

/** The model that built the collection in the data directory, if any (a collection keeps it). */
async function collectionModelId(config: Config, log: Logger): Promise<string | undefined> {
  const unlock = await lockDataDir(config.dataDir);
  try {
    const catalog = await openCatalog(config, log);
    try {
      return (await catalog.collectionModel())?.modelId;
    } finally {
      await catalog.close();
    }
  } finally {
    await unlock();
  }
}

/** Listens with `fetch`, resolving once the port is bound (or rejecting, e.g. EADDRINUSE). */
function listen(config: Config, fetch: Fetch): Promise<{ server: Server; url: string }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port: config.port, hostname: config.host }, (info) => {
      server.off('error', reject);
      const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
      resolve({ server: server as Server, url: `http://${host}:${info.port}` });
    });
    server.once('error', reject);
  });
}

/**
 * Downloads the default model with a progress bar on the terminal and `status` for the page. A
 * failure is reported as the block of other ways to get a model; the caller goes on without it.
 */
async function firstRunDownload(
  plan: FirstRunDownload,
  status: StartingHealth,
  write: (text: string) => void,
  log: Logger,
  signal: AbortSignal | undefined
): Promise<void> {
  const { manifest } = plan;
  write(`First start: downloading the real model (${manifest.name}) from ${plan.urls[0]}\n`);
  const bar = new SingleBar({
    format: `${manifest.id} [{bar}] {percentage}% | {value}/{total} MiB | {eta_formatted} left`,
    hideCursor: true,
    stream: process.stderr
  });
  const mib = (n: number) => Math.round(n / 104857.6) / 10;
  let started = false;
  status.model = {
    id: manifest.id,
    name: manifest.name,
    downloading: { receivedBytes: 0, totalBytes: manifest.file.bytes ?? null }
  };
  try {
    const result = await downloadDefaultModel(plan, {
      signal,
      onProgress: ({ receivedBytes, totalBytes }) => {
        status.model = {
          id: manifest.id,
          name: manifest.name,
          downloading: { receivedBytes, totalBytes: totalBytes ?? null }
        };
        if (!started) bar.start(mib(totalBytes ?? receivedBytes), 0);
        started = true;
        bar.update(mib(receivedBytes));
      }
    });
    if (started) bar.stop();
    status.model = { id: manifest.id, name: manifest.name };
    write(`Saved ${result.path} (${result.bytes} bytes, sha256 verified)\n`);
    log.info({ model: manifest.id, path: result.path, bytes: result.bytes }, 'model downloaded');
    // Browsers then download the float16 copy (half the size, same vectors) when it checks out.
    await writeBrowserCopy({
      manifest,
      modelPath: result.path,
      browserPath: browserModelPath(dirname(plan.dest), manifest),
      log: (line) => write(`${line}\n`)
    });
  } catch (error) {
    if (started) bar.stop();
    if (!(error instanceof ModelDownloadError) || error.code === 'aborted') throw error;
    log.warn({ model: manifest.id, code: error.code, reason: error.message }, 'download failed');
    write(`\n${noDownloadHelp(plan, error.message)}\n`);
    delete status.model; // not this model after all: the fallback loads next
  }
}

/**
 * Starts the HTTP server. On a first start with nothing configured and the real model reachable,
 * the server answers at once in a `starting` state (the page shows the download's progress)
 * while the model downloads, and the real app replaces it, on the same server, once it is ready.
 */
export async function startServer(
  config: Config,
  log: Logger,
  options: StartServerOptions = {}
): Promise<StartedServer> {
  const write = options.write ?? ((text: string) => void process.stderr.write(text));
  const appOptions = { staticDir: options.staticDir, logger: log };
  const manifest = options.defaultManifest ?? getManifest(DEFAULT_MODEL_ID);
  const plan = await planDefaultDownload(config, manifest, () => collectionModelId(config, log));

  if (plan) {
    const status: StartingHealth = {
      status: 'starting',
      model: { id: manifest.id, name: manifest.name }
    };
    const starting = createStartingApp(() => status, config, appOptions);
    let handler: Fetch = starting.fetch;
    const listening = await listen(config, (request, env) => handler(request, env));
    write(`Lookalike is starting on ${listening.url}: the page shows the model's download\n`);
    try {
      await firstRunDownload(plan, status, write, log, options.signal);
      const runtime = await createRuntime(config, log);
      handler = createApp(runtime, appOptions).fetch;
      return { ...listening, runtime };
    } catch (error) {
      listening.server.close();
      throw error;
    }
  }
  const runtime = await createRuntime(config, log);
  try {
    const app = createApp(runtime, appOptions);
    return { ...(await listen(config, app.fetch)), runtime };
  } catch (error) {
    await runtime.close();
    throw error;
  }
}

export function serveCommand(): Command {
  return withModelOptions(new Command('serve'))
    .description('serve the web app and the HTTP API')
    .option('-p, --port <port>', 'port (env PORT, default 5000)')
    .option(
      '--no-model-download',
      'with no model configured or cached, start on the synthetic model instead of downloading ' +
        'resnet50 first (env LOOKALIKE_MODEL_DOWNLOAD=false)'
    )
    .action(async (options: Record<string, string | boolean | undefined>) => {
      const config: Config = {
        ...configFrom(options),
        ...(options.modelDownload === false ? { modelDownload: false } : {})
      };
      const log = createLogger(config.logLevel);

      // Ctrl-C during a first-start download stops it (kept for the next start) and exits.
      const aborter = new AbortController();
      let started: StartedServer | undefined;
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down');
        aborter.abort();
        const force = setTimeout(() => {
          log.warn('shutdown took too long; exiting');
          process.exit(0);
        }, SHUTDOWN_GRACE_MS);
        force.unref();
        if (started) shutDown(started);
      };
      const shutDown = ({ server, runtime }: StartedServer) => {
        // Stop accepting connections; idle keep-alive ones go now, busy ones with the process.
        server.close();
        server.closeIdleConnections();
        // Cancels running jobs (their finished batches are durable) and saves the index.
        void runtime
          .close()
          .catch((error: unknown) => log.error({ err: error }, 'error while shutting down'))
          .finally(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);

      try {
        started = await startServer(config, log, {
          staticDir: STATIC_DIR,
          signal: aborter.signal
        });
      } catch (error) {
        if (stopping) process.exit(0);
        throw error;
      }
      if (stopping) return shutDown(started);

      const { runtime, url } = started;
      const { manifest, source, path, warning } = runtime.model;
      log.info({ model: manifest.id, source, path, synthetic: manifest.synthetic }, 'model loaded');
      if (warning) {
        log.warn({ model: manifest.id }, warning);
        shout(warning);
      }
      if (!runtime.roots.configured) {
        process.stderr.write(
          'No image folders are allowed yet, so nothing can be indexed. Set LOOKALIKE_IMAGE_ROOTS ' +
            'to the folders Lookalike may read (separated by ":"), e.g.\n' +
            '  LOOKALIKE_IMAGE_ROOTS=/home/me/Pictures npx lookalike serve\n'
        );
      } else {
        log.info({ roots: runtime.roots.roots }, 'image folders allowed');
      }
      if (config.adminToken) log.info('admin endpoints need the bearer token');
      process.stderr.write(
        `Lookalike on ${url} (model ${manifest.id}, ${runtime.embedder.description})\n`
      );
    });
}
