import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { downloadProgress } from '../../server/cli/download-progress';
import { downloadFile } from '../../server/models/download';
import { startModelHost } from '../helpers/model-host';

/**
 * On a terminal, a host that sends no Content-Length gives no total to show a share of: the
 * download shows the MiB so far, redrawn in place, and never a percentage (a bar sized by the
 * first chunk would run far past 100 %).
 */
it('shows MiB so far without a percentage on a terminal when the host gives no size', async () => {
  const MiB = 1024 * 1024;
  const body = Buffer.alloc(3 * MiB, 5);
  const host = await startModelHost(body, { withoutContentLength: true });
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-progress-unknown-'));
  let terminal = '';
  const totals = new Set<number | undefined>();
  const progress = downloadProgress('resnet50', { isTTY: true, write: (t) => (terminal += t) });
  try {
    await downloadFile({
      urls: [host.url],
      dest: join(dir, 'model.onnx'),
      onProgress: ({ receivedBytes, totalBytes }) => {
        totals.add(totalBytes);
        progress.update(receivedBytes, totalBytes);
      }
    });
    progress.stop();
    expect([...totals]).toEqual([undefined]);
    expect(terminal).not.toContain('%');
    const shown = terminal.split('\r').filter(Boolean);
    expect(shown.length).toBeGreaterThan(1);
    expect(shown.at(-1)).toBe('resnet50: 3.0 MiB so far\n');
    for (const line of shown) expect(line).toMatch(/^resnet50: \d+\.\d MiB so far\n?$/);
  } finally {
    await host.close();
    await rm(dir, { recursive: true, force: true });
  }
});
