import { serve } from '@hono/node-server';
import { Command } from 'commander';
import { createApp } from '../../http/app';
import { createRuntime } from '../../runtime';
import { configFrom, shout, withModelOptions } from '../options';

export function serveCommand(): Command {
  return withModelOptions(new Command('serve'))
    .description('serve the web app and the HTTP API')
    .option('-p, --port <port>', 'port (env PORT, default 5000)')
    .action(async (options: Record<string, string | undefined>) => {
      const config = configFrom(options);
      const runtime = await createRuntime(config);
      if (runtime.model.warning) shout(runtime.model.warning);
      const app = createApp(runtime);
      const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
        process.stderr.write(
          `Lookalike on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${info.port} ` +
            `(model ${runtime.model.manifest.id}, ${runtime.embedder.description})\n`
        );
      });
      const stop = () => {
        server.close();
        void runtime.close().finally(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
