import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOB_COUNTERS } from '#core/job-counters';
import { JobProgressSchema } from '../../server/http/schemas';
import { REPO_ROOT } from '../helpers/cli';

/** The CLI and the page call each job counter by the same word (core/job-counters). */
describe('job counter words', () => {
  it('name every counter of the job schema once', () => {
    const counters = ['seen', 'indexed', 'unchanged', 'skipped', 'failed', 'removed'];
    for (const key of counters) expect(Object.keys(JobProgressSchema.shape)).toContain(key);
    expect(JOB_COUNTERS.map(({ key }) => key)).toEqual(counters);
    expect(new Set(JOB_COUNTERS.map(({ label }) => label)).size).toBe(counters.length);
  });

  it("are the page's job panel words", async () => {
    const page = await readFile(
      join(REPO_ROOT, 'src/lib/components/collection/JobProgress.svelte'),
      'utf8'
    );
    // The panel takes its words from the shared list, as the CLI does.
    expect(page).toMatch(/import \{ JOB_COUNTERS \} from '#core\/job-counters'/);
    expect(page).not.toMatch(/label: '(Looked at|Added|Unchanged|Not images|Failed|Removed)'/);
  });
});
