import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Row } from './embedding';
import { serveChild } from './load';
import { photoJpeg } from './photos';

const BAD_FILES = 1000;
const PHOTOS = 60;
const WATCHERS = 300;

/** A folder of `PHOTOS` distinct photos and `BAD_FILES` files that are not pictures (errors). */
async function folder(dir: string, firstPhoto: number) {
  await mkdir(dir, { recursive: true });
  for (let n = 0; n < PHOTOS; n++)
    await writeFile(join(dir, `photo-${n}.jpg`), await photoJpeg(firstPhoto + n));
  for (let n = 0; n < BAD_FILES; n++) {
    const name = `a-file-that-is-not-a-picture-at-all-${String(n).padStart(4, '0')}.jpg`;
    await writeFile(join(dir, name), `not a picture ${n}\n`);
  }
}

interface Watched {
  status: number;
  bytes: number;
}

/**
 * Follows a job's event stream to its end from a loopback address of its own (127.0.x.y, so the
 * server sees many clients), counting the bytes it receives.
 */
function watch(url: string, jobId: string, n: number): Promise<Watched> {
  return new Promise((resolve) => {
    const req = request(
      `${url}/api/index/${jobId}/events`,
      { agent: false, localAddress: `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}` },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, bytes }));
      }
    );
    req.on('error', () => resolve({ status: 0, bytes: 0 }));
    req.end();
  });
}

/**
 * A job over 1000 files that are not pictures (1000 per-file errors) and 60 photos, followed by 0,
 * then by 300 event streams, then by 0 again (from 300 client addresses) against a real `lookalike serve`:
 * the job's time should not depend on its watchers, and the bytes sent stay small (progress
 * events carry counters, errors go out once per stream; at most 16 streams per running job).
 */
export async function benchSse(cacheDir: string): Promise<Row[]> {
  const base = await mkdtemp(join(tmpdir(), 'lookalike-bench-sse-'));
  await folder(join(base, 'alone'), 0);
  await folder(join(base, 'watched'), 1000);
  await folder(join(base, 'after'), 2000);
  const server = await serveChild(base, cacheDir);
  const post = async (path: string) => {
    const res = await fetch(`${server.url}/api/index`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path })
    });
    return ((await res.json()) as { jobId: string }).jobId;
  };
  const finished = async (jobId: string) => {
    for (;;) {
      const job = (await (await fetch(`${server.url}/api/index/${jobId}`)).json()) as {
        state: string;
        createdAt: number;
        finishedAt?: number;
        skipped: number;
      };
      if (job.finishedAt !== undefined) return job;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    const alone = await finished(await post(join(base, 'alone')));
    const watchedId = await post(join(base, 'watched'));
    const watchers = await Promise.all(
      Array.from({ length: WATCHERS }, (_, n) => watch(server.url, watchedId, n))
    );
    const watched = await finished(watchedId);
    // The same work again without watchers: how much the job time varies by itself.
    const after = await finished(await post(join(base, 'after')));
    if ([alone, watched, after].some((job) => job.skipped !== BAD_FILES))
      throw new Error('the SSE benchmark lost files');
    const followed = watchers.filter((w) => w.status === 200);
    const refused = watchers.filter((w) => w.status === 429).length;
    const sent = followed.reduce((sum, w) => sum + w.bytes, 0);
    const seconds = (job: { createdAt: number; finishedAt?: number }) =>
      (job.finishedAt! - job.createdAt) / 1000;
    return [
      {
        name: `job time, ${BAD_FILES} bad files + ${PHOTOS} photos, no watchers`,
        value: seconds(alone),
        unit: 's',
        note: `${seconds(after).toFixed(2)} s for the same work again after the watched job`
      },
      {
        name: `job time, same job with ${WATCHERS} event streams`,
        value: seconds(watched),
        unit: 's',
        note: `${followed.length} followed, ${refused} refused (429), ${WATCHERS - followed.length - refused} other`
      },
      {
        name: 'bytes sent to the streams that followed',
        value: sent / (1024 * 1024),
        unit: 'MiB',
        note: `${followed.length ? Math.round(sent / followed.length / 1024) : 0} KiB per stream`
      }
    ];
  } finally {
    await server.stop();
    await rm(base, { recursive: true, force: true });
  }
}
