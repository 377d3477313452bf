import { Command } from 'commander';
import { createEmbeddingRuntime } from '../../runtime';
import { configFrom, shout, withModelOptions } from '../options';

/** `lookalike embed <image…>`: one JSON object per line and image, for scripts and debugging. */
export function embedCommand(): Command {
  return withModelOptions(new Command('embed'))
    .description(
      'print the embedding of each image as JSON lines: { path, vector, ms } or { path, error }'
    )
    .argument('<images...>', 'image files')
    .action(async (images: string[], options: Record<string, string | undefined>) => {
      const runtime = await createEmbeddingRuntime(configFrom(options));
      if (runtime.model.warning) shout(runtime.model.warning);
      let failed = 0;
      try {
        await runtime.embedder.embedMany(images, (result) => {
          const ms = Math.round(result.ms * 100) / 100;
          const line = result.vector
            ? { path: result.input, vector: Array.from(result.vector), ms }
            : { path: result.input, error: result.error, ms };
          if (!result.vector) failed++;
          process.stdout.write(`${JSON.stringify(line)}\n`);
        });
      } finally {
        await runtime.close();
      }
      if (failed > 0) {
        process.stderr.write(`${failed} of ${images.length} image(s) failed\n`);
        process.exitCode = 1;
      }
    });
}
