import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupCliTempDirs,
  cliTempDir,
  REPO_ROOT,
  runCli,
  startCli,
  type CliResult
} from '../helpers/cli';
import { scene } from '../helpers/images';

interface ManifestOnDisk {
  id: string;
  dimension: number;
  synthetic?: boolean;
  file: { sha256?: string };
}

interface EmbedLine {
  path: string;
  vector?: number[];
  error?: string;
  ms?: number;
}

const FETCH_HINT = 'npx lookalike model fetch resnet50';

let manifests: ManifestOnDisk[];
let images: string;
let photo: string;
let otherPhoto: string;

/** A local mirror whose bytes are not the real model, and the requests it saw. */
let mirror: Server;
let mirrorUrl = '';
const mirrorBytes = Buffer.alloc(256 * 1024, 0);
const mirrorRequests: string[] = [];
let closedPort = 0;

beforeAll(async () => {
  const dir = join(REPO_ROOT, 'models');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  manifests = await Promise.all(
    files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as ManifestOnDisk)
  );

  images = await cliTempDir('lookalike-cli-images-');
  photo = join(images, 'photo.jpg');
  otherPhoto = join(images, 'other.jpg');
  await writeFile(photo, await scene(320, 240, 1));
  await writeFile(otherPhoto, await scene(240, 320, 2));
  await writeFile(join(images, 'bad.txt'), 'this is not an image\n');

  for (let i = 0; i < mirrorBytes.length; i++) mirrorBytes[i] = (i * 7919 + (i >> 8)) & 0xff;
  mirror = createServer((req, res) => {
    mirrorRequests.push(req.url ?? '');
    if (req.url === '/model.onnx') {
      res.writeHead(200, { 'content-length': mirrorBytes.length }).end(mirrorBytes);
    } else {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
  mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/model.onnx`;

  // A port that was free a moment ago has nothing listening: connecting is refused.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});

afterAll(async () => {
  mirror.closeAllConnections();
  await new Promise((resolve) => mirror.close(resolve));
  await cleanupCliTempDirs();
});

function manifest(id: string): ManifestOnDisk {
  const found = manifests.find((m) => m.id === id);
  if (!found) throw new Error(`no models/${id}.json`);
  return found;
}

function jsonLines(stdout: string): EmbedLine[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as EmbedLine);
}

/** What a failed run printed, for assertion messages. */
const output = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** Every file under a folder (full paths). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('lookalike embed', () => {
  it('prints one JSON line with a unit 2048-d vector for the synthetic ResNet-50', async () => {
    const r = await runCli(['embed', '--model', 'synthetic-resnet50', photo]);
    expect(r.code, output(r)).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1); // nothing but the JSON goes to stdout
    const [line] = jsonLines(r.stdout);
    expect(line!.path).toBe(photo);
    expect(line!.error).toBeUndefined();
    const vector = line!.vector!;
    expect(vector).toHaveLength(manifest('synthetic-resnet50').dimension);
    expect(vector).toHaveLength(2048);
    expect(vector.every((x) => typeof x === 'number' && Number.isFinite(x))).toBe(true);
    const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
    expect(Math.abs(norm - 1)).toBeLessThan(1e-4);
    expect(new Set(vector).size).toBeGreaterThan(1);
    expect(typeof line!.ms).toBe('number');
    expect(line!.ms).toBeGreaterThanOrEqual(0);
    // The synthetic model is announced where a human sees it.
    expect(r.stderr).toMatch(/SYNTHETIC/);
    expect(r.stderr).toContain(FETCH_HINT);
  });

  it('reports bad inputs in order, keeps going, and exits non-zero', async () => {
    const good = photo;
    const bad = join(images, 'bad.txt');
    const missing = join(images, 'missing.png');
    const r = await runCli(['embed', '--model', 'tiny', good, bad, missing]);
    expect(r.timedOut).toBe(false);
    expect(r.code, output(r)).not.toBe(0);
    expect(r.code, output(r)).not.toBeNull();
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.path)).toEqual([good, bad, missing]);
    const [ok, notImage, absent] = lines;
    expect(ok!.error).toBeUndefined();
    expect(ok!.vector).toHaveLength(manifest('tiny').dimension);
    expect(ok!.vector).toHaveLength(128);
    for (const failed of [notImage!, absent!]) {
      expect(failed).not.toHaveProperty('vector');
      expect(typeof failed.error).toBe('string');
      expect(failed.error!.length).toBeGreaterThan(0);
    }
  });

  it('gives the same image the same vector within one call', async () => {
    const r = await runCli(['embed', '--model', 'tiny', photo, otherPhoto, photo]);
    expect(r.code, output(r)).toBe(0);
    const [first, other, again] = jsonLines(r.stdout);
    expect([first!.path, other!.path, again!.path]).toEqual([photo, otherPhoto, photo]);
    expect(first!.vector).toHaveLength(128);
    expect(again!.vector).toEqual(first!.vector);
    // A different picture must not give that vector too, or the equality above proves nothing.
    expect(other!.vector).toHaveLength(128);
    expect(other!.vector).not.toEqual(first!.vector);
  });

  it('takes a shell glob over a big folder (tens of KB of arguments) without crashing', async () => {
    // onnxruntime's telemetry regex over /proc/self/cmdline overflowed the stack from ~25 KB.
    const paths = Array.from({ length: Math.ceil(40_000 / photo.length) }, () => photo);
    expect(paths.join(' ').length).toBeGreaterThan(40_000);
    const r = await runCli(['embed', '--model', 'tiny', ...paths], { timeoutMs: 110_000 });
    expect(r.signal, output(r)).toBeNull();
    expect(r.code, output(r)).toBe(0);
    expect(jsonLines(r.stdout)).toHaveLength(paths.length);
  });
});

describe('lookalike model fetch', () => {
  it('fails fast when offline and explains the manual install', async () => {
    const dataDir = await cliTempDir('lookalike-cli-offline-');
    const url = `http://127.0.0.1:${closedPort}/model.onnx`;
    const r = await runCli(['model', 'fetch', 'resnet50', '--url', url], {
      dataDir,
      env: { LOOKALIKE_MODEL_CACHE: undefined },
      timeoutMs: 20_000
    });
    expect(r.timedOut).toBe(false);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.code, output(r)).not.toBe(0);
    expect(r.code, output(r)).not.toBeNull();
    expect(r.stderr).toMatch(/offline/i);
    expect(r.stderr).toContain('--model-file');
    expect(r.stderr).toContain('LOOKALIKE_MODEL_FILE');
    expect(r.stderr).toContain(join(dataDir, 'models', 'resnet50.onnx'));
    // An expected failure is a message, not a crash.
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const leftovers = (await filesUnder(dataDir)).filter((f) => /\.(onnx|part)$/.test(f));
    expect(leftovers).toEqual([]);
  });

  it('rejects a download whose SHA-256 is not the manifest one and leaves nothing behind', async () => {
    const servedSha = createHash('sha256').update(mirrorBytes).digest('hex');
    const wantedSha = manifest('resnet50').file.sha256;
    expect(wantedSha).toMatch(/^[0-9a-f]{64}$/);
    expect(servedSha).not.toBe(wantedSha);

    const dataDir = await cliTempDir('lookalike-cli-mismatch-');
    const before = mirrorRequests.length;
    const r = await runCli(['model', 'fetch', 'resnet50', '--url', mirrorUrl], {
      dataDir,
      env: { LOOKALIKE_MODEL_CACHE: undefined },
      timeoutMs: 30_000
    });
    expect(r.timedOut).toBe(false);
    expect(r.code, output(r)).not.toBe(0);
    expect(r.code, output(r)).not.toBeNull();
    // The mirror was reached: this is a hash failure, not a network one.
    expect(mirrorRequests.slice(before)).toContain('/model.onnx');
    expect(r.stderr).toMatch(/sha-?256|integrity/i);
    expect(r.stderr).toContain(servedSha);
    expect(r.stderr).toContain(wantedSha);
    expect(r.stderr).not.toMatch(/offline/i);
    const dest = join(dataDir, 'models', 'resnet50.onnx');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect((await filesUnder(dataDir)).filter((f) => /\.(onnx|part)$/.test(f))).toEqual([]);
  });
});

describe('lookalike usage errors', () => {
  it('explains an unknown model id or a misused command in one line, without a stack trace', async () => {
    const [unknown, generateReal] = await Promise.all([
      runCli(['embed', '--model', 'nope', photo]),
      runCli(['model', 'generate', 'resnet50'])
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Unknown model "nope"\. Known models: .*tiny/);
    expect(generateReal.code).toBe(1);
    expect(generateReal.stderr).toMatch(/resnet50 is a real model: use "model fetch"/);
    for (const r of [unknown, generateReal]) expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('refuses to serve with an admin token no Authorization header could carry', async () => {
    const r = await runCli(['serve', '--port', '0'], {
      env: { LOOKALIKE_ADMIN_TOKEN: 'my secret token!' }
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /LOOKALIKE_ADMIN_TOKEN\): only A-Z a-z 0-9 - \. _ ~ \+ \/ and trailing =/
    );
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toMatch(/Lookalike on http/);
  });
});

describe('lookalike --help', () => {
  const commands = [
    [],
    ['model'],
    ['model', 'list'],
    ['model', 'fetch'],
    ['model', 'generate'],
    ['embed'],
    ['serve']
  ];

  it('prints usage for every command', async () => {
    const results = await Promise.all(commands.map((c) => runCli([...c, '--help'])));
    results.forEach((r, i) => {
      const name = ['lookalike', ...commands[i]!].join(' ');
      expect(r.code, `${name} --help\n${output(r)}`).toBe(0);
      expect(r.stdout, name).toContain('Usage');
      expect(r.stdout, name).toMatch(new RegExp(`^Usage: ${name}( |$)`, 'm'));
    });
  });
});

describe('lookalike model list', () => {
  it('lists every manifest with its dimension', async () => {
    const r = await runCli(['model', 'list']);
    expect(r.code, output(r)).toBe(0);
    const rows = r.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.trim().split(/\s+/));
    expect(manifests.length).toBeGreaterThanOrEqual(3);
    for (const m of manifests) {
      const row = rows.find((cells) => cells[0] === m.id);
      expect(row, `${m.id} in\n${r.stdout}`).toBeDefined();
      expect(row).toContain(`${m.dimension}-d`);
    }
    expect(rows).toHaveLength(manifests.length);
    // The shared test cache holds the generated tiny model.
    expect(rows.find((cells) => cells[0] === 'tiny')).toContain('cached');
  });
});

describe('lookalike serve', () => {
  it('serves /api/health and stops on SIGTERM', async () => {
    const cli = await startCli(['serve', '--model', 'tiny', '--port', '0'], { timeoutMs: 60_000 });
    try {
      const [, base, port] = await cli.waitForStderr(/Lookalike on (http:\/\/[^\s:]+:(\d+))/);
      expect(Number(port)).toBeGreaterThan(0);
      const res = await fetch(`${base}/api/health`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as {
        model: { id: string; synthetic: boolean; warning?: string };
      };
      expect(body.model.id).toBe('tiny');
      expect(body.model.synthetic).toBe(true);
      expect(body.model.warning).toMatch(/SYNTHETIC/);
      expect(cli.stderr()).toMatch(/SYNTHETIC/);

      const sent = Date.now();
      cli.child.kill('SIGTERM');
      const r = await cli.exited;
      expect(r.timedOut).toBe(false);
      expect(Date.now() - sent).toBeLessThan(10_000);
      expect(r.code, output(r)).toBe(0);
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    }
  });
});
