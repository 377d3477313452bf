import { describe, expect, it } from 'vitest';
import { JOB_COUNTERS } from '#core/job-counters';
import { openApiDocument } from '../../scripts/api-types';

/**
 * A job counter means one thing wherever it is shown: the API document describes each with the
 * words the page's job panel and the CLI take from core/job-counters.ts.
 */
describe('the job counters in /api/openapi.json', () => {
  it('are described with core/job-counters’ label and meaning', async () => {
    const document = await openApiDocument();
    const progress = document.components?.schemas?.IndexJobProgress as {
      properties: Record<string, { description?: string }>;
    };
    for (const { key, label, meaning } of JOB_COUNTERS) {
      const description = progress.properties[key]?.description;
      expect(description, key).toContain(label);
      expect(description, key).toContain(meaning);
    }
  }, 60_000);
});
