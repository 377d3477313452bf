import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { downloadFile, ModelDownloadError } from '../../server/models/download';
import { startModelHost } from '../helpers/model-host';

/**
 * Two downloads of one file in one process (a first-run download and a `model fetch` request,
 * say) would both write the same .part: the second is refused while the first runs, and the
 * first finishes with the right bytes.
 */
it('refuses a second download of a file this process is downloading already', async () => {
  const body = Buffer.alloc(2 * 1024 * 1024, 7);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const host = await startModelHost(body, { pauseAt: 512 * 1024 });
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-download-twice-'));
  const dest = join(dir, 'model.onnx');
  try {
    const options = { urls: [host.url], dest, bytes: body.length, sha256 };
    const first = downloadFile(options);
    await host.paused;
    const second = downloadFile(options).catch((error: unknown) => error);
    const early = await Promise.race([second, delay(3000).then(() => 'still downloading')]);
    expect(early).toBeInstanceOf(ModelDownloadError);
    expect(early).toMatchObject({ code: 'busy' });
    expect((early as Error).message).toMatch(/This process is downloading .*model\.onnx already/);
    host.release();
    expect((await first).sha256).toBe(sha256);
    expect(
      createHash('sha256')
        .update(await readFile(dest))
        .digest('hex')
    ).toBe(sha256);
    await second;
    // Released once done: the next download of the file is allowed again (and needs no network).
    expect((await downloadFile(options)).url).toBe('');
  } finally {
    await host.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
