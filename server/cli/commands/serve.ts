import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Command } from 'commander';
import { createApp } from '../../http/app';
import { createLogger } from '../../log';
import { createRuntime } from '../../runtime';
import { configFrom, shout, withModelOptions } from '../options';

/** How long shutdown may take (cancelling jobs, saving the index) before exiting anyway. */
const SHUTDOWN_GRACE_MS = 15_000;

export function serveCommand(): Command {
  return withModelOptions(new Command('serve'))
    .description('serve the web app and the HTTP API')
    .option('-p, --port <port>', 'port (env PORT, default 5000)')
    .action(async (options: Record<string, string | undefined>) => {
      const config = configFrom(options);
      const log = createLogger(config.logLevel);
      const runtime = await createRuntime(config, log);
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

      // Relative to the package, so `npx lookalike serve` works from any directory.
      const app = createApp(runtime, {
        staticDir: fileURLToPath(new URL('../../../build', import.meta.url)),
        logger: log
      });
      const server = serve(
        { fetch: app.fetch, port: config.port, hostname: config.host },
        (info) => {
          process.stderr.write(
            `Lookalike on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${info.port} ` +
              `(model ${runtime.model.manifest.id}, ${runtime.embedder.description})\n`
          );
        }
      );

      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down');
        // Stop accepting connections; idle keep-alive ones go now, busy ones with the process.
        server.close();
        if ('closeIdleConnections' in server) server.closeIdleConnections();
        const force = setTimeout(() => {
          log.warn('shutdown took too long; exiting');
          process.exit(0);
        }, SHUTDOWN_GRACE_MS);
        force.unref();
        // Cancels running jobs (their finished batches are durable) and saves the index.
        void runtime
          .close()
          .catch((error: unknown) => log.error({ err: error }, 'error while shutting down'))
          .finally(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
