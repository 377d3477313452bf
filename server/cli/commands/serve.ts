import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Command } from 'commander';
import { createApp } from '../../http/app';
import { createLogger } from '../../log';
import { createRuntime } from '../../runtime';
import { configFrom, shout, withModelOptions } from '../options';

export function serveCommand(): Command {
  return withModelOptions(new Command('serve'))
    .description('serve the web app and the HTTP API')
    .option('-p, --port <port>', 'port (env PORT, default 5000)')
    .action(async (options: Record<string, string | undefined>) => {
      const config = configFrom(options);
      const log = createLogger(config.logLevel);
      const runtime = await createRuntime(config);
      const { manifest, source, path, warning } = runtime.model;
      log.info({ model: manifest.id, source, path, synthetic: manifest.synthetic }, 'model loaded');
      if (warning) {
        log.warn({ model: manifest.id }, warning);
        shout(warning);
      }
      // Relative to the package, so `npx lookalike serve` works from any directory.
      const app = createApp(runtime, {
        staticDir: fileURLToPath(new URL('../../../build', import.meta.url))
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
      const stop = () => {
        server.close();
        void runtime.close().finally(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
