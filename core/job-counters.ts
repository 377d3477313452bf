/**
 * The words for an index job's counters, one set for every surface (the page's job panel, the
 * CLI's progress bar and summary), so that "Added 6" in a terminal is "Added 6" on the page. The
 * keys are the job's fields in the HTTP API and `--json`, which keep their names.
 */
export const JOB_COUNTERS = [
  { key: 'seen', label: 'Looked at', meaning: 'files read so far' },
  { key: 'indexed', label: 'Added', meaning: 'new or changed files, now searchable' },
  { key: 'unchanged', label: 'Unchanged', meaning: 'already in the collection' },
  { key: 'skipped', label: 'Not images', meaning: 'not pictures (or not regular files)' },
  { key: 'failed', label: 'Failed', meaning: 'broken or unreadable images' },
  { key: 'removed', label: 'Removed', meaning: 'pictures whose files are gone' }
] as const;

export type JobCounterKey = (typeof JOB_COUNTERS)[number]['key'];

/** The label of one counter, e.g. `counterLabel('skipped')` → "Not images". */
export function counterLabel(key: JobCounterKey): string {
  return JOB_COUNTERS.find((counter) => counter.key === key)!.label;
}
