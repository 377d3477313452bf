import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import { ImageRejectedError } from '../../embedding/image-decoder';
import { UserError } from '../../errors';
import {
  configFrom,
  integerIn,
  openCollection,
  requireCatalog,
  withCollectionOption,
  withDataDirOption,
  withModelChoice
} from '../options';
import { BAND_WORDS, scoreBand, weakMatchIndex, type Banded } from '#core/scores';
import { noteIgnoredFlags, runningServerFor } from '../server-client';
import { human } from '../terminal-text';

interface SearchOptions {
  topK: number;
  json?: boolean;
  [flag: string]: unknown;
}

/** `lookalike search <image>`: the most similar pictures in the collection, best first. */
export function searchCommand(): Command {
  // One image per search: --batch-size does nothing here.
  return withCollectionOption(
    withDataDirOption(withModelChoice(new Command('search'), { batch: false })),
    'the collection to search'
  )
    .summary('find the pictures in the collection most similar to an image')
    .description(
      'find the pictures in the collection most similar to an image; with a model whose scores ' +
        'were measured, each score gets a word (Same picture, Similar, Weak) and a line marks ' +
        'the weaker matches'
    )
    .argument('<image>', 'the query image')
    .option('-k, --top-k <n>', 'how many results, 1–100', integerIn(1, 100), 10)
    .option('--json', 'print { results, tookMs } as JSON instead of a table')
    .action(async (image: string, options: SearchOptions) => {
      const info = await stat(image).catch(() => undefined);
      if (!info) throw new UserError(`No such file: ${image}`);
      if (!info.isFile()) throw new UserError(`Not a file: ${image}`);

      const config = configFrom(options);
      requireCatalog(config);
      const server = await runningServerFor(config);
      if (server) {
        noteIgnoredFlags(server, options);
        const collection = options.collection as string | undefined;
        const { results, tookMs } = await server.searchImage(collection, image, options.topK);
        print(results, tookMs, await server.model(collection), options.json);
        return;
      }
      const { runtime, open } = await openCollection(options);
      try {
        const started = performance.now();
        let vector: Float32Array;
        try {
          vector = await open.embedder.embedOne(image);
        } catch (error) {
          if (error instanceof ImageRejectedError)
            throw new UserError(`Cannot search with ${image}: ${error.message}`);
          throw error;
        }
        const results = await open.collection.search(vector, options.topK);
        const tookMs = Math.round((performance.now() - started) * 100) / 100;
        print(results, tookMs, open.model.manifest, options.json);
      } finally {
        await runtime.close();
      }
    });
}

/**
 * The results as a table (or JSON). Words only for a model with measured bands: a synthetic
 * model's scores mean nothing.
 */
function print(
  results: readonly { score: number; path: string; paths?: readonly string[] }[],
  tookMs: number,
  model: Banded,
  json: boolean | undefined
): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ results, tookMs })}\n`);
    return;
  }
  if (results.length === 0) {
    process.stderr.write(
      'The collection is empty: index a folder first (lookalike index <folder>).\n'
    );
    return;
  }
  const banded = model.scores !== undefined;
  const weakFrom = weakMatchIndex(results, model);
  const match = banded ? `${'match'.padEnd(12)}  ` : '';
  process.stdout.write(`${'rank'.padStart(4)}  ${'score'.padEnd(7)}  ${match}path\n`);
  results.forEach((hit, i) => {
    if (i === weakFrom) {
      process.stdout.write(
        i === 0 ? '      -- no close match --\n' : '      -- weaker matches --\n'
      );
    }
    const band = scoreBand(hit.score, model);
    const word = band ? `${BAND_WORDS[band].label.padEnd(12)}  ` : '';
    const row = `${String(i + 1).padStart(4)}  ${hit.score.toFixed(4).padEnd(7)}  ${word}`;
    process.stdout.write(human`${row}${hit.path}\n`);
    // Identical files are one picture: its other files follow, under the path column.
    for (const other of hit.paths?.slice(1) ?? []) {
      process.stdout.write(human`${' '.repeat(row.length)}also ${other}\n`);
    }
  });
  process.stderr.write(`${results.length} result(s) in ${tookMs} ms\n`);
}
