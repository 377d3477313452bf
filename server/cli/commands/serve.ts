import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, isIP, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Command } from 'commander';
import type { Logger } from 'pino';
import type { ModelManifest } from '#core/model-manifest';
import type { Config } from '../../config';
import { UserError } from '../../errors';
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
import { answerClientErrors } from '../../http/client-errors';
import { lockDataDir, recordRunningServer } from '../../data-dir-lock';
import { downloadProgress } from '../download-progress';
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
  /** Removes the record CLI commands find this server by (written once it listens). */
  forget: () => Promise<void>;
  /** The address it answers on, e.g. http://localhost:5000 (https:// with a certificate). */
  url: string;
  /** The certificate it serves over HTTPS. */
  certificate?: X509Certificate;
}

/** The PEM certificate (chain) and private key HTTPS serves with. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  certificate: X509Certificate;
}

const CERT_OPTION = '--tls-cert or LOOKALIKE_TLS_CERT';
const KEY_OPTION = '--tls-key or LOOKALIKE_TLS_KEY';

async function readPem(path: string, what: string, option: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a folder'
            : (error as Error).message;
    throw new UserError(`Cannot read the TLS ${what} ${path} (${option}): ${why}.`);
  }
}

/**
 * Reads and checks the HTTPS certificate and key, so that a wrong file is one line at start-up
 * (before any model work) instead of a failed handshake on the phone. Undefined without TLS.
 */
export async function loadTls(config: Config): Promise<TlsFiles | undefined> {
  const { tlsCert, tlsKey } = config;
  if (!tlsCert && !tlsKey) return undefined;
  if (!tlsCert || !tlsKey)
    throw new UserError(
      `HTTPS needs both a certificate (${CERT_OPTION}) and its private key (${KEY_OPTION}); ` +
        `only the ${tlsCert ? 'certificate' : 'key'} was given.`
    );
  const cert = await readPem(tlsCert, 'certificate', CERT_OPTION);
  const key = await readPem(tlsKey, 'key', KEY_OPTION);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new UserError(
      `The TLS certificate ${tlsCert} (${CERT_OPTION}) is not a PEM certificate ` +
        '("-----BEGIN CERTIFICATE-----"); is it the key?'
    );
  }
  try {
    // What the HTTPS server does with them, so every problem it would have shows up here.
    createSecureContext({ cert, key });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
        ? `The TLS key ${tlsKey} does not belong to the certificate ${tlsCert}: give the key ` +
            'that was made with this certificate.'
        : `The TLS key ${tlsKey} (${KEY_OPTION}) is not a PEM private key ` +
            '("-----BEGIN PRIVATE KEY-----"; one protected by a passphrase is not supported).'
    );
  }
  if (Date.parse(x509.validTo) < Date.now())
    throw new UserError(
      `The TLS certificate ${tlsCert} expired on ${x509.validTo}; browsers refuse it. Make a new one.`
    );
  return { cert, key, certificate: x509 };
}

/** One line for a failure to listen: which address, and what to change. */
export function listenError(error: unknown, config: Config): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${config.host}:${config.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new UserError(
        `Port ${config.port} is already in use on ${config.host} (another Lookalike or another ` +
          'server?): stop it, or choose another port with --port <n> or PORT=<n>.'
      );
    case 'EACCES':
      return new UserError(
        `Not allowed to listen on ${where} (ports below 1024 need privileges): choose another ` +
          'port with --port <n> or PORT=<n>.'
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UserError(
        `Cannot listen on ${where}: "${config.host}" is not an address of this machine. Set HOST ` +
          'to one of its addresses, 0.0.0.0 for all of them, or leave it out for 127.0.0.1.'
      );
    default:
      return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * Binds the port for a moment and lets it go: a port in use (or a HOST that is not this
 * machine's) is reported before the model is downloaded, generated or loaded (which can take
 * minutes), not after. Port 0 only checks the host.
 */
export function checkPort(config: Config): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const probe = createNetServer();
    probe.once('error', (error) => reject(listenError(error, config)));
    probe.listen({ port: config.port, host: config.host, exclusive: true }, () =>
      probe.close(() => resolvePromise())
    );
  });
}

/**
 * The URLs whose host the certificate does not name: a browser refuses them even when it trusts
 * the certificate's CA, the usual slip when a phone opens the machine's LAN address.
 */
export function uncoveredUrls(certificate: X509Certificate, urls: string[]): string[] {
  return urls.filter((url) => {
    const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
    const named = isIP(host) ? certificate.checkIP(host) : certificate.checkHost(host);
    return named === undefined;
  });
}

/** `host` as it goes in a URL: the wildcard addresses as localhost, IPv6 in brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The addresses other devices (a phone on the same Wi-Fi) reach the server at: the machine's
 * external IPv4 addresses when it listens on all of them, else none.
 */
export function lanUrls(config: Config, port: number, scheme: 'http' | 'https'): string[] {
  if (config.host !== '0.0.0.0' && config.host !== '::') return [];
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => `${scheme}://${a!.address}:${port}`);
}

/**
 * The model that built the collection in the data directory, if any (a collection keeps it). The
 * caller holds the data directory's lock.
 */
async function collectionModelId(config: Config, log: Logger): Promise<string | undefined> {
  const catalog = await openCatalog(config, log);
  try {
    return (await catalog.collectionModel())?.modelId;
  } finally {
    await catalog.close();
  }
}

/** Records the listening server where CLI commands on the same data directory look for it. */
function recordServer(config: Config, url: string): Promise<() => Promise<void>> {
  return recordRunningServer(config.dataDir, {
    url,
    adminToken: config.adminToken,
    tlsCert: config.tlsCert,
    imageRoots: config.imageRoots
  });
}

/**
 * Listens with `fetch` (over HTTPS with `tls`), resolving once the port is bound; a failure to
 * bind (the port taken since checkPort) is one line.
 */
function listen(
  config: Config,
  fetch: Fetch,
  tls: TlsFiles | undefined
): Promise<{ server: Server; url: string }> {
  return new Promise((resolvePromise, reject) => {
    const onError = (error: Error) => reject(listenError(error, config));
    const base = { fetch, port: config.port, hostname: config.host };
    const options = tls
      ? {
          ...base,
          // HTTP/1.1 only: over HTTP/2 the event streams' Transfer-Encoding and Connection
          // headers (set by Hono's streamSSE) are forbidden and end the process.
          createServer: createHttpsServer,
          serverOptions: { cert: tls.cert, key: tls.key }
        }
      : base;
    const server = serve(options, (info) => {
      server.off('error', onError);
      const scheme = tls ? 'https' : 'http';
      resolvePromise({
        server: server as Server,
        url: `${scheme}://${urlHost(config.host)}:${info.port}`
      });
    });
    server.once('error', onError);
    answerClientErrors(server);
  });
}

/**
 * Downloads the default model with a progress bar on the terminal and `status` for the page. A
 * failure is reported as the block of other ways to get a model and returned (why it failed); the
 * caller goes on without it.
 */
async function firstRunDownload(
  plan: FirstRunDownload,
  status: StartingHealth,
  write: (text: string) => void,
  log: Logger,
  signal: AbortSignal | undefined
): Promise<string | undefined> {
  const { manifest } = plan;
  write(`First start: downloading the real model (${manifest.name}) from ${plan.urls[0]}\n`);
  // A bar on a terminal; lines every 10 % under a service manager or in a log file.
  const progress = downloadProgress(manifest.id, {
    isTTY: Boolean(process.stderr.isTTY),
    write
  });
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
        progress.update(receivedBytes, totalBytes);
      }
    });
    progress.stop();
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
    progress.stop();
    if (!(error instanceof ModelDownloadError) || error.code === 'aborted') throw error;
    log.warn({ model: manifest.id, code: error.code, reason: error.message }, 'download failed');
    write(`\n${noDownloadHelp(plan, error.message)}\n`);
    delete status.model; // not this model after all: the fallback loads next
    return error.message;
  }
}

/**
 * After a failed first download, the fallback model's warning (which /api/health carries to the
 * page, and the terminal shouts) starts with why, so a random-weight model is never taken for the
 * download having worked.
 */
function withDownloadFailure(
  runtime: Runtime,
  manifest: ModelManifest,
  failure: string | undefined
): Runtime {
  if (failure === undefined || !runtime.model.warning) return runtime;
  const why = failure.replace(/[.\s]+$/, '');
  const warning = `The first-start download of ${manifest.name} failed: ${why}. ${runtime.model.warning}`;
  return { ...runtime, model: { ...runtime.model, warning } };
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
  // Mistakes in the certificate or the port first: the model work below can take minutes.
  const tls = await loadTls(config);
  await checkPort(config);
  // The data directory is this server's from here on, through a first download too: a CLI
  // command started meanwhile finds the lock (and, once the server listens, its record) and
  // never opens the stores beside it. The runtime locks it too (the same process shares the
  // lock and counts its holders); once the runtime holds it, serve lets go of its own share, so
  // the lock goes when the runtime closes. Until then a failure gives serve's share back.
  const unlock = await lockDataDir(config.dataDir);
  let forget = (): Promise<void> => Promise.resolve();
  try {
    const plan = await planDefaultDownload(config, manifest, () => collectionModelId(config, log));

    if (plan) {
      const status: StartingHealth = {
        status: 'starting',
        model: { id: manifest.id, name: manifest.name }
      };
      const starting = createStartingApp(() => status, config, appOptions);
      let handler: Fetch = starting.fetch;
      const listening = await listen(config, (request, env) => handler(request, env), tls);
      try {
        forget = await recordServer(config, listening.url);
        write(`Lookalike is starting on ${listening.url}: the page shows the model's download\n`);
        const failure = await firstRunDownload(plan, status, write, log, options.signal);
        const runtime = withDownloadFailure(await createRuntime(config, log), manifest, failure);
        await unlock(); // the runtime holds the data directory now, until it closes
        await runtime.library.startWatching().catch(async (error: unknown) => {
          await runtime.close();
          throw error;
        });
        handler = createApp(runtime, appOptions).fetch;
        return { ...listening, runtime, forget, certificate: tls?.certificate };
      } catch (error) {
        listening.server.close();
        throw error;
      }
    }
    const runtime = await createRuntime(config, log);
    await unlock(); // the runtime holds the data directory now, until it closes
    try {
      // Only a serving process watches folders (CLI commands open the same runtime briefly).
      await runtime.library.startWatching();
      const app = createApp(runtime, appOptions);
      const listening = await listen(config, app.fetch, tls);
      forget = await recordServer(config, listening.url);
      return { ...listening, runtime, forget, certificate: tls?.certificate };
    } catch (error) {
      await runtime.close();
      throw error;
    }
  } catch (error) {
    await forget();
    // A no-op when serve let go of its share already.
    await unlock();
    throw error;
  }
}

export function serveCommand(): Command {
  return withModelOptions(new Command('serve'))
    .description('serve the web app and the HTTP API')
    .option('-p, --port <port>', 'port (env PORT, default 5000)')
    .option(
      '--tls-cert <file>',
      'serve HTTPS with this PEM certificate (chain); needs --tls-key (env LOOKALIKE_TLS_CERT)'
    )
    .option('--tls-key <file>', "the certificate's PEM private key (env LOOKALIKE_TLS_KEY)")
    .option(
      '--no-model-download',
      'with no model configured or cached, start on the synthetic model instead of downloading ' +
        'resnet50 first (env LOOKALIKE_MODEL_DOWNLOAD=false)'
    )
    .addHelpText(
      'after',
      `
Environment:
  LOOKALIKE_IMAGE_ROOTS  folders the server may index, separated by ":" (none by default)
  HOST                   listen address (default 127.0.0.1, this machine only); 0.0.0.0 lets
                         phones and other computers on the network in
  LOOKALIKE_TLS_CERT, LOOKALIKE_TLS_KEY
                         as --tls-cert/--tls-key. A phone needs HTTPS for offline search,
                         installing the app and threaded encoding
  LOOKALIKE_ALLOWED_HOSTS, LOOKALIKE_ADMIN_TOKEN, LOOKALIKE_CORS_ORIGINS: see the README

Example, for a phone on the same network (certificate from mkcert, see the README):
  HOST=0.0.0.0 LOOKALIKE_IMAGE_ROOTS=$HOME/Pictures npx lookalike serve \\
    --tls-cert lookalike.pem --tls-key lookalike-key.pem`
    )
    .action(async (options: Record<string, string | boolean | undefined>) => {
      const flag = (name: string) => {
        const value = options[name];
        return typeof value === 'string' && value !== '' ? resolve(value) : undefined;
      };
      const loaded = configFrom(options);
      const config: Config = {
        ...loaded,
        // Flags over the environment, as configFrom does for the shared ones.
        tlsCert: flag('tlsCert') ?? loaded.tlsCert,
        tlsKey: flag('tlsKey') ?? loaded.tlsKey,
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
      const shutDown = ({ server, runtime, forget }: StartedServer) => {
        // Stop accepting connections; idle keep-alive ones go now, busy ones with the process.
        server.close();
        server.closeIdleConnections();
        // Cancels running jobs (their finished batches are durable) and saves the index.
        void Promise.allSettled([
          forget(),
          runtime
            .close()
            .catch((error: unknown) => log.error({ err: error }, 'error while shutting down'))
        ]).finally(() => process.exit(0));
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
      const scheme = url.startsWith('https:') ? 'https' : 'http';
      const others = lanUrls(config, (started.server.address() as AddressInfo).port, scheme);
      if (others.length > 0) {
        process.stderr.write(`From a phone or another computer: ${others.join('  ')}\n`);
        if (scheme === 'http')
          process.stderr.write(
            'Over plain HTTP a phone cannot search offline, install the app or encode with ' +
              'threads; serve HTTPS with --tls-cert and --tls-key (see the README).\n'
          );
      }
      const refused = started.certificate
        ? uncoveredUrls(started.certificate, [url, ...others])
        : [];
      if (refused.length > 0)
        process.stderr.write(
          `The certificate does not name ${refused.map((u) => new URL(u).hostname).join(', ')}: ` +
            `browsers will refuse ${refused.join('  ')}. Make one that lists them (see the README).\n`
        );
    });
}
