import { Command } from 'commander';
import {
  defaultThreshold,
  findDuplicates,
  SAME_PICTURE_HAMMING,
  type DuplicateGroup
} from '../../services/duplicates';
import {
  configFrom,
  integerIn,
  numberIn,
  openCollection,
  requireCatalog,
  withCollectionOption,
  withDataDirOption,
  withModelChoice
} from '../options';
import type { DuplicateGroupJson } from '../../http/schemas';
import { noteIgnoredFlags, runningServerFor } from '../server-client';
import { human } from '../terminal-text';

interface DuplicatesOptions {
  /** Unset: the model's measured `strong` band. */
  threshold?: number;
  hammingMax: number;
  neighbours: number;
  json?: boolean;
  collection?: string;
  [flag: string]: unknown;
}

/** `lookalike duplicates`: identical files, copies of one picture, and look-alikes. */
export function duplicatesCommand(): Command {
  // The vectors are read, not computed: the model flags are not listed.
  return withCollectionOption(
    withDataDirOption(withModelChoice(new Command('duplicates'), { listed: false }))
  )
    .summary('list identical files, copies of one picture and look-alikes')
    .description(
      'list groups of duplicates: identical files (same-bytes), re-encoded or resized copies ' +
        '(same-picture) and pictures above the similarity threshold (similar-scene)'
    )
    .option(
      '--threshold <cosine>',
      'cosine similarity that links two pictures, 0–1 (default: the model\'s "same picture" ' +
        'score band, e.g. 0.8 for efficientnet-lite0)',
      numberIn(0, 1)
    )
    .option(
      '--hamming-max <bits>',
      'most difference-hash bits (of 64) apart for "same-picture"',
      integerIn(0, 64),
      SAME_PICTURE_HAMMING
    )
    .option('--neighbours <n>', 'nearest neighbours checked per picture', integerIn(1, 1000), 10)
    .option('--json', 'print the groups as a JSON array')
    .action(async (options: DuplicatesOptions) => {
      const config = configFrom(options);
      requireCatalog(config);
      const params = { hammingMax: options.hammingMax, neighbours: options.neighbours };
      const server = await runningServerFor(config);
      if (server) {
        noteIgnoredFlags(server, options);
        const answer = await server.duplicates(options.collection, {
          ...params,
          threshold: options.threshold
        });
        if (!answer.thresholdMeasured) warnUnmeasured(answer.model, answer.threshold);
        print(answer.groups.map(plainGroup), answer.threshold, options.json);
        return;
      }
      const { runtime, open } = await openCollection(options);
      const fallback = defaultThreshold(open.model.manifest);
      const threshold = options.threshold ?? fallback.threshold;
      if (options.threshold === undefined && !fallback.measured)
        warnUnmeasured(open.model.manifest.id, threshold);
      let groups: DuplicateGroup[];
      try {
        groups = await findDuplicates(open.collection, { threshold, ...params });
      } finally {
        await runtime.close();
      }
      print(groups, threshold, options.json);
    });
}

function warnUnmeasured(model: string, threshold: number): void {
  process.stderr.write(
    `Model ${model} has no measured score bands: threshold ` +
      `${threshold} is a fixed fallback, not a measurement (pass --threshold).\n`
  );
}

/** The one way the groups are printed, whether found here or by the running server. */
function print(groups: readonly DuplicateGroup[], threshold: number, json?: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(groups, null, 2)}\n`);
    return;
  }
  for (const group of groups) {
    process.stdout.write(human`${group.reason}: ${group.explanation}\n`);
    for (const member of group.members) {
      const score = member.score === undefined ? '' : `${member.score.toFixed(4)}  `;
      const pad = ' '.repeat(score.length);
      member.paths.forEach((path, i) => {
        process.stdout.write(human`  ${i === 0 ? score : pad}${path}\n`);
      });
    }
    process.stdout.write('\n');
  }
  process.stderr.write(
    groups.length === 0
      ? `No duplicates at threshold ${threshold}.\n`
      : `${groups.length} group(s) at threshold ${threshold}.\n`
  );
}

/**
 * The service's group (as `--json` prints it) from the server's explained one: the same keys in
 * the same order, so the output does not depend on where the groups were found.
 */
export function plainGroup(group: DuplicateGroupJson): DuplicateGroup {
  return {
    reason: group.reason,
    members: group.members.map(({ id, paths, score }) =>
      score === undefined ? { id, paths } : { id, paths, score }
    ),
    explanation: group.explanation
  };
}
