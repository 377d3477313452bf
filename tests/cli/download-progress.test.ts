import { describe, expect, it } from 'vitest';
import { downloadProgress } from '../../server/cli/download-progress';

/** Without a terminal (`npm start > log`), a model download still shows how far it is. */
describe('downloadProgress without a terminal', () => {
  const MiB = 1024 * 1024;

  it('prints a line every 10 %, never the same step twice', () => {
    const lines: string[] = [];
    const progress = downloadProgress('resnet50', { isTTY: false, write: (t) => lines.push(t) });
    for (let received = 0; received <= 94 * MiB; received += MiB / 2)
      progress.update(received, 94 * MiB);
    progress.stop();
    expect(lines[0]).toBe('resnet50: 0% (0.0 of 94.0 MiB)\n');
    expect(lines).toContain('resnet50: 50% (47.0 of 94.0 MiB)\n');
    expect(lines.at(-1)).toBe('resnet50: 100% (94.0 of 94.0 MiB)\n');
    expect(lines).toHaveLength(11);
  });

  it('counts MiB when the host does not say the size', () => {
    const lines: string[] = [];
    const progress = downloadProgress('resnet50', { isTTY: false, write: (t) => lines.push(t) });
    for (let received = 0; received <= 25 * MiB; received += MiB)
      progress.update(received, undefined);
    expect(lines).toEqual(['resnet50: 0.0 MiB\n', 'resnet50: 10.0 MiB\n', 'resnet50: 20.0 MiB\n']);
  });
});
