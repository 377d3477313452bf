import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Row } from './embedding';

const CLIENTS = 50;
const DURATION_MS = 30_000;

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function photos(dir: string, count: number, seed: number) {
  await mkdir(dir, { recursive: true });
  for (let n = 0; n < count; n++) {
    const hue = (seed * 97 + n * 31) % 255;
    await writeFile(
      join(dir, `p${n}.jpg`),
      await sharp({
        create: {
          width: 800,
          height: 600,
          channels: 3,
          background: { r: hue, g: 255 - hue, b: (n * 7) % 255 }
        }
      })
        .composite([
          {
            input: Buffer.from(
              `<svg width="800" height="600"><circle cx="${(n * 37) % 800}" cy="${(n * 53) % 600}" r="${50 + (n % 150)}" fill="#${(n * 4099).toString(16).slice(-6).padStart(6, '0')}"/></svg>`
            )
          }
        ])
        .jpeg({ quality: 85 })
        .toBuffer()
    );
  }
}

function unitVector(dim: number, seed: number): number[] {
  let s = seed;
  const v = Array.from({ length: dim }, () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  });
  const n = Math.sqrt(v.reduce((a, b) => a + b * b, 0));
  return v.map((x) => x / n);
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * 50 concurrent clients for 30 s against a real `lookalike serve` (synthetic ResNet-50), half on
 * the vector path (what the browser sends) and half on the image path (server-side encoding),
 * while an index job runs. Reports errors and p50/p99 per path.
 */
export async function benchLoad(cacheDir: string): Promise<Row[]> {
  const base = await mkdtemp(join(tmpdir(), 'lookalike-bench-load-'));
  await photos(join(base, 'first'), 100, 1);
  await photos(join(base, 'second'), 400, 2);
  const server = await serveChild(base, cacheDir);
  const { url } = server;
  try {
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body)
      });
    const first = (await (await post('/api/index', { path: join(base, 'first') })).json()) as {
      jobId: string;
    };
    for (;;) {
      const job = (await (await fetch(`${url}/api/index/${first.jobId}`)).json()) as {
        state: string;
      };
      if (job.state !== 'queued' && job.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const second = (await (await post('/api/index', { path: join(base, 'second') })).json()) as {
      jobId: string;
    };
    const query = await sharp({
      create: { width: 640, height: 480, channels: 3, background: '#884422' }
    })
      .jpeg()
      .toBuffer();

    const latencies = { vector: [] as number[], image: [] as number[] };
    const errors = { vector: 0, image: 0 };
    const deadline = Date.now() + DURATION_MS;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const kind = client % 2 === 0 ? 'vector' : 'image';
        let n = 0;
        while (Date.now() < deadline) {
          const started = performance.now();
          let response: Response;
          if (kind === 'vector') {
            response = await post('/api/search', {
              vector: unitVector(2048, client * 1000 + n++),
              topK: 10
            });
          } else {
            const form = new FormData();
            form.set('image', new Blob([query], { type: 'image/jpeg' }), 'query.jpg');
            response = await fetch(`${url}/api/search/image`, { method: 'POST', body: form });
          }
          await response.arrayBuffer();
          if (response.ok) latencies[kind].push(performance.now() - started);
          else errors[kind]++;
        }
      })
    );
    const job = (await (await fetch(`${url}/api/index/${second.jobId}`)).json()) as {
      indexed: number;
      state: string;
    };
    const rows: Row[] = [];
    for (const kind of ['vector', 'image'] as const) {
      const sorted = latencies[kind].sort((a, b) => a - b);
      const note = `${sorted.length} ok, ${errors[kind]} errors in ${DURATION_MS / 1000} s, ${CLIENTS / 2} clients`;
      rows.push({
        name: `${kind} search under load: p50`,
        value: pct(sorted, 50),
        unit: 'ms',
        note
      });
      rows.push({ name: `${kind} search under load: p99`, value: pct(sorted, 99), unit: 'ms' });
      rows.push({ name: `${kind} search under load: errors`, value: errors[kind], unit: '' });
    }
    rows.push({
      name: 'index job progress during the load',
      value: job.indexed,
      unit: 'images',
      note: `state ${job.state}`
    });
    return rows;
  } finally {
    await server.stop();
    await rm(base, { recursive: true, force: true });
  }
}

/**
 * A real `lookalike serve` (synthetic ResNet-50) in a child process, its data in `<base>/data`,
 * `base` the allowed image folder; resolves once it answers /api/health.
 */
export async function serveChild(base: string, cacheDir: string, env: Record<string, string> = {}) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = spawn(
    process.execPath,
    ['bin/lookalike.js', 'serve', '--model', 'synthetic-resnet50'],
    {
      env: {
        ...process.env,
        PORT: String(port),
        LOOKALIKE_DATA_DIR: join(base, 'data'),
        LOOKALIKE_MODEL_CACHE: cacheDir,
        LOOKALIKE_IMAGE_ROOTS: base,
        LOG_LEVEL: 'warn',
        ...env
      },
      stdio: ['ignore', 'ignore', 'inherit']
    }
  );
  const exited = new Promise((r) => server.once('exit', r));
  const stop = async () => {
    server.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; ; i++) {
    const up = await fetch(`${url}/api/health`).then(
      (r) => r.ok,
      () => false
    );
    if (up) break;
    if (i > 300 || server.exitCode !== null) {
      await stop();
      throw new Error('server did not start');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, pid: server.pid!, stop };
}

/** Resident memory of a process in bytes (Linux /proc), or NaN elsewhere. */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

const UPLOADS = 60;
const UPLOAD_BYTES = 30 * 1024 * 1024;

/**
 * 60 concurrent 30 MiB uploads to /api/encode (a small JPEG padded to 30 MiB) against a real
 * `lookalike serve` with the default limits: the server's peak resident memory, sampled every
 * 20 ms from /proc, against its resident memory at rest. Upload bodies are read only once the
 * encode budget has room for them, so the peak stays near two uploads' worth.
 */
export async function benchUploads(cacheDir: string): Promise<Row[]> {
  const base = await mkdtemp(join(tmpdir(), 'lookalike-bench-uploads-'));
  const server = await serveChild(base, cacheDir);
  try {
    const jpeg = await sharp({
      create: { width: 640, height: 480, channels: 3, background: '#884422' }
    })
      .jpeg()
      .toBuffer();
    // node:http rather than fetch: it reports an answer that comes while the body is still being
    // sent (a refusal), where fetch reports the connection the server then closes.
    const upload = (bytes: Uint8Array) =>
      new Promise<number>((resolve) => {
        const boundary = 'lookalike-bench-upload';
        const body = Buffer.concat([
          Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="image"; ` +
              `filename="upload.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`
          ),
          bytes,
          Buffer.from(`\r\n--${boundary}--\r\n`)
        ]);
        const req = request(
          `${server.url}/api/encode`,
          {
            method: 'POST',
            agent: false,
            headers: {
              'content-type': `multipart/form-data; boundary=${boundary}`,
              'content-length': String(body.length)
            }
          },
          (res) => {
            resolve(res.statusCode ?? 0);
            res.resume();
            res.on('error', () => undefined);
          }
        );
        req.on('error', () => resolve(0));
        req.end(body);
      });
    if ((await upload(jpeg)) !== 200) throw new Error('the warm-up upload failed');
    await new Promise((r) => setTimeout(r, 500));
    const atRest = await rssOf(server.pid);
    const padded = new Uint8Array(UPLOAD_BYTES);
    padded.set(jpeg);
    let peak = atRest;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rssOf(server.pid));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const started = performance.now();
    const statuses = await Promise.all(Array.from({ length: UPLOADS }, () => upload(padded)));
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    const count = (status: number) => statuses.filter((s) => s === status).length;
    const MiB = 1024 * 1024;
    return [
      { name: 'server RSS at rest', value: atRest / MiB, unit: 'MiB' },
      {
        name: `server peak RSS, ${UPLOADS} concurrent ${UPLOAD_BYTES / MiB} MiB uploads`,
        value: peak / MiB,
        unit: 'MiB',
        note:
          `${count(200)} encoded, ${count(503)} refused (503), ` +
          `${UPLOADS - count(200) - count(503)} other, in ${seconds.toFixed(1)} s`
      }
    ];
  } finally {
    await server.stop();
    await rm(base, { recursive: true, force: true });
  }
}
