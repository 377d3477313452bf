import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
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

  it('waits briefly for a full pipe, then drops, and says so once it drains', async () => {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    // Opened for reading and writing, non-blocking: a pipe nobody reads, 64 KiB deep.
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const notes: { dropped: number; reason: string }[] = [];
    const destination = new LogDestination(fd, {
      onRecovered: (dropped, reason) => notes.push({ dropped, reason })
    });
    const line = `${'x'.repeat(1023)}\n`;
    const drain = () => {
      const buffer = Buffer.alloc(1 << 20);
      let total = 0;
      for (;;) {
        try {
          total += readSync(fd, buffer);
        } catch {
          return total; // EAGAIN: empty
        }
      }
    };
    try {
      // Read within the wait: nothing is lost.
      for (let i = 0; i < 100; i++) destination.write(line);
      await new Promise((resolve) => setTimeout(resolve, 20));
      let read = drain();
      await new Promise((resolve) => setTimeout(resolve, 50));
      read += drain();
      expect(destination.dropped).toBe(0);
      expect(read).toBe(100 * 1024);

      // Nobody reads: the rest goes after the wait, counted, and the server never blocks.
      for (let i = 0; i < 200; i++) destination.write(line);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(destination.dropped).toBeGreaterThan(0);
      drain();
      destination.write('{"after":true}\n');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(notes).toEqual([{ dropped: destination.dropped, reason: 'EAGAIN' }]);
    } finally {
      closeSync(fd);
    }
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
