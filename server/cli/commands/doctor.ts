import { Command } from 'commander';
import {
  configFrom,
  openRuntime,
  requireCatalog,
  withDataDirOption,
  withModelChoice
} from '../options';
import { refuseBesideServer } from '../server-client';
import { human } from '../terminal-text';

/**
 * `lookalike doctor`: checks that the catalog and the vector index agree and repairs them (rows a
 * crash left pending, vectors the index lost, vectors without a row). Opening the collection runs
 * the same repair; this reports it.
 */
export function doctorCommand(): Command {
  // The stored vectors are checked, none computed: the model flags are not listed.
  return withDataDirOption(withModelChoice(new Command('doctor'), { listed: false }))
    .description('check and repair the catalog and the vector index against each other')
    .option('--json', 'print the report as JSON')
    .action(async (options: Record<string, unknown>) => {
      const config = configFrom(options);
      requireCatalog(config);
      await refuseBesideServer(config, 'doctor');
      const runtime = await openRuntime(options, { warn: false });
      try {
        const report = await runtime.collection.audit();
        const images = await runtime.collection.count();
        const vectors = await runtime.collection.indexedCount();
        const result = {
          ...report,
          images,
          vectors,
          stores: runtime.stores,
          consistent: images === vectors
        };
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else {
          process.stdout.write(
            [
              human`catalog (${runtime.stores.catalog}): ${images} pictures`,
              human`vector index (${runtime.stores.vectors}): ${vectors} vectors`,
              `pending rows put into the index: ${report.pending}`,
              report.checked
                ? `vectors re-sent: ${report.missingVectors}; vectors without a row removed: ${report.orphanVectors}`
                : 'the in-process index is rebuilt from the catalog when it differs',
              result.consistent ? 'OK: the stores agree' : 'MISMATCH: the stores still disagree'
            ].join('\n') + '\n'
          );
        }
        if (!result.consistent) process.exitCode = 1;
      } finally {
        await runtime.close();
      }
    });
}
