import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogDestination } from '../../server/log';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lookalike-log-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Waits until the file stops growing: the writes go through the thread pool. */
async function settle(file: string): Promise<string> {
  let last = -1;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 30));
    const text = await readFile(file, 'utf8');
    if (text.length === last) return text;
    last = text.length;
  }
}

describe('LogDestination', () => {
  it('writes every line, in order', async () => {
    const file = join(dir, 'ordered.log');
    const fd = openSync(file, 'a');
    const destination = new LogDestination(fd);
    const lines = Array.from({ length: 2000 }, (_, i) => `{"n":${i}}\n`);
    for (const line of lines) destination.write(line);
    expect(await settle(file)).toBe(lines.join(''));
    closeSync(fd);
    expect(destination.dropped).toBe(0);
  });

  it('drops and counts lines it cannot write, without throwing', async () => {
    const fd = openSync(join(dir, 'closed.log'), 'a');
    closeSync(fd); // every write now fails (EBADF)
    const destination = new LogDestination(fd);
    for (let i = 0; i < 10; i++) expect(destination.write(`{"n":${i}}\n`)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(destination.dropped).toBe(10);
  });

  it('drops what would pile up beyond its buffer instead of growing', async () => {
    const file = join(dir, 'capped.log');
    const fd = openSync(file, 'a');
    const destination = new LogDestination(fd, { maxPendingBytes: 100 });
    for (let i = 0; i < 50; i++) destination.write(`${'x'.repeat(39)}\n`); // 40 bytes each
    const written = (await settle(file)).split('\n').length - 1;
    closeSync(fd);
    expect(destination.dropped).toBeGreaterThan(0);
    expect(written + destination.dropped).toBe(50);
  });
});
