import { execFileSync } from 'node:child_process';
import { readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_FILE } from '../../server/data-dir-lock';
import {
  cleanupCliTempDirs,
  cliTempDir,
  runCli,
  startCli,
  type CliProcess,
  type CliResult
} from '../helpers/cli';
import { writeScenes } from '../http/helpers';

/**
 * The CLI next to a running `lookalike serve` on the same data directory, with the real binary
 * on both sides: the read commands and `index` go through the server's HTTP API; the commands
 * that need the data directory to themselves say which server holds it.
 */

const output = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

const servers: CliProcess[] = [];
afterAll(async () => {
  for (const cli of servers) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
  await cleanupCliTempDirs();
});

/** `text` matched literally inside a RegExp. */
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function serve(dataDir: string, env: Record<string, string>) {
  const cli = await startCli(['serve', '--model', 'tiny', '--port', '0', '--batch-size', '1'], {
    env: { LOG_LEVEL: 'warn', ...env },
    dataDir,
    timeoutMs: 240_000
  });
  servers.push(cli);
  const [, base] = await cli.waitForStderr(/Lookalike on (https?:\/\/[^\s]+)/, 60_000);
  return { cli, base: base! };
}

describe('the CLI beside a running serve', () => {
  let dataDir: string;
  let images: string;
  let photos: string[];
  let server: { cli: CliProcess; base: string };
  const cli = (args: string[], env: Record<string, string | undefined> = {}) =>
    runCli(args, { dataDir, env, timeoutMs: 120_000 });

  beforeAll(async () => {
    dataDir = await cliTempDir('lookalike-beside-data-');
    images = await cliTempDir('lookalike-beside-images-');
    photos = await writeScenes(join(images, 'photos'), 4, { firstSeed: 30 });
    await writeScenes(join(images, 'many'), 300, { width: 320, height: 240, firstSeed: 100 });
    server = await serve(dataDir, {
      LOOKALIKE_IMAGE_ROOTS: images,
      LOOKALIKE_ADMIN_TOKEN: 'beside-secret'
    });
  }, 120_000);

  it('records how to reach it, readable by its owner only', async () => {
    const info = await stat(join(dataDir, SERVER_FILE));
    expect(info.mode & 0o777).toBe(0o600);
  });

  it('indexes through the server, with its admin token, and reads the result back', async () => {
    const r = await cli(['index', join(images, 'photos')]);
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr).toMatch(/Indexing through the running `lookalike serve` on http/);
    expect(r.stderr).toMatch(/Indexed .*photos/);
    expect(r.stderr).toMatch(/The collection holds 4 picture\(s\)/);

    // The server itself has them.
    const res = await fetch(`${server.base}/api/images/count`);
    expect(await res.json()).toEqual({ count: 4 });

    const count = await cli(['count']);
    expect(count.code, output(count)).toBe(0);
    expect(count.stdout.trim()).toBe('4');

    const listed = await cli(['collections', '--json']);
    expect(listed.code, output(listed)).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        name: 'default',
        model: { id: 'tiny', dimension: expect.any(Number) },
        images: 4,
        default: true
      }
    ]);

    const search = await cli(['search', photos[2]!, '--json', '-k', '2']);
    expect(search.code, output(search)).toBe(0);
    const { results } = JSON.parse(search.stdout) as { results: { path: string; score: number }[] };
    expect(results).toHaveLength(2);
    expect(results[0]!.path).toBe(photos[2]);
    expect(results[0]!.score).toBeGreaterThan(0.99);

    const table = await cli(['search', photos[1]!]);
    expect(table.code, output(table)).toBe(0);
    expect(table.stdout).toContain(photos[1]);
  });

  it("explains a folder outside the server's image folders, and flags it ignores", async () => {
    const outside = await cliTempDir('lookalike-beside-outside-');
    await writeScenes(outside, 1, { firstSeed: 90 });
    const r = await cli(['index', outside, '--batch-size', '2']);
    expect(r.code, output(r)).toBe(1);
    expect(r.stderr).toMatch(/Ignoring --batch-size: the running `lookalike serve` on http/);
    const real = await realpath(outside);
    expect(r.stderr).toMatch(
      /^lookalike: The running `lookalike serve` on \S+ \(pid \d+\) indexes only inside its LOOKALIKE_IMAGE_ROOTS \(\S+\), which do not include \S+\. Either stop it/m
    );
    // The restart line keeps the server's roots and adds the folder.
    // ...and the port and data directory, so the pasted line restarts this server, not another.
    expect(r.stderr).toMatch(
      new RegExp(
        `\\n  PORT=\\d+ LOOKALIKE_DATA_DIR=${escape(resolve(dataDir))} ` +
          `LOOKALIKE_IMAGE_ROOTS=${escape(`${await realpath(images)}:${real}`)} npx lookalike serve\\n`
      )
    );
    const count = await cli(['count', '--model', 'tiny']);
    expect(count.code, output(count)).toBe(0);
    expect(count.stderr).toMatch(/Ignoring --model: .* uses its own model settings/);
  });

  it('says so when the caller gives a wrong admin token', async () => {
    const r = await cli(['index', join(images, 'photos')], {
      LOOKALIKE_ADMIN_TOKEN: 'wrong-token-123'
    });
    expect(r.code, output(r)).toBe(1);
    expect(r.stderr).toMatch(/answered 401: Wrong bearer token \(set LOOKALIKE_ADMIN_TOKEN/);
  });

  it('Ctrl-C cancels the server job it started', async () => {
    const run = await startCli(['index', join(images, 'many')], {
      dataDir,
      timeoutMs: 120_000
    });
    await run.waitForStderr(/Indexing through/, 60_000);
    // The job is the server's newest; wait until it is really indexing.
    let jobId: string | undefined;
    for (let i = 0; i < 200 && !jobId; i++) {
      const { jobs } = (await (await fetch(`${server.base}/api/index?limit=1`)).json()) as {
        jobs: { jobId: string; path: string; state: string; indexed: number }[];
      };
      const job = jobs[0];
      if (job?.path.endsWith('many') && job.state === 'running' && job.indexed > 0)
        jobId = job.jobId;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(jobId).toBeDefined();
    run.child.kill('SIGINT');
    const r = await run.exited;
    expect(r.code, output(r)).toBe(130);
    expect(r.stderr).toMatch(/Cancelled .*many/);
    const job = (await (await fetch(`${server.base}/api/index/${jobId}`)).json()) as {
      state: string;
      indexed: number;
    };
    expect(job.state).toBe('cancelled');
    expect(job.indexed).toBeLessThan(300);
  });

  it('refuses the commands that need the data directory to themselves, naming the server', async () => {
    const drop = await cli(['drop', '--yes']);
    // migrate copies the embedded stores, which have one writer: the server must stop first.
    const migrate = await cli(['migrate', '--to', 'milvus'], { MILVUS_ADDRESS: '127.0.0.1:9' });
    for (const r of [drop, migrate]) {
      expect(r.code, output(r)).toBe(1);
      expect(r.stderr).toMatch(
        /^lookalike: The data directory \S+ is in use by `lookalike serve` on http:\/\/\S+ \(pid \d+\): stop it first/
      );
    }
    for (const command of ['doctor']) {
      const r = await cli([command]);
      expect(r.code, output(r)).toBe(1);
      expect(r.stderr.trim().split('\n'), output(r)).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`\`lookalike ${command}\` cannot run beside`));
    }
  });

  it('works on its own again once the server has stopped, which removes its record', async () => {
    server.cli.child.kill('SIGINT');
    expect((await server.cli.exited).code).toBe(0);
    await expect(stat(join(dataDir, SERVER_FILE))).rejects.toThrow(/ENOENT/);
    const count = await cli(['count']);
    expect(count.code, output(count)).toBe(0);
    expect(Number(count.stdout.trim())).toBeGreaterThanOrEqual(4);
    const doctor = await cli(['doctor']);
    expect(doctor.code, output(doctor)).toBe(0);
  });
});

describe('the CLI beside a running serve over HTTPS', () => {
  let dataDir: string;
  let images: string;
  let dir: string;
  let server: { cli: CliProcess; base: string };

  /** A self-signed certificate for localhost only: the CLI calls 127.0.0.1 and pins it. */
  function makeCertificate(name: string): { cert: string; key: string } {
    const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-keyout', files.key, '-out', files.cert, '-days', '2', '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=DNS:localhost']
      ],
      { stdio: 'ignore' }
    );
    return files;
  }

  beforeAll(async () => {
    dataDir = await cliTempDir('lookalike-beside-tls-data-');
    images = await cliTempDir('lookalike-beside-tls-images-');
    dir = await cliTempDir('lookalike-beside-tls-');
    await writeScenes(join(images, 'photos'), 3, { firstSeed: 70 });
    const { cert, key } = makeCertificate('server');
    server = await serve(dataDir, {
      LOOKALIKE_IMAGE_ROOTS: images,
      LOOKALIKE_TLS_CERT: cert,
      LOOKALIKE_TLS_KEY: key
    });
  }, 120_000);

  it('indexes and counts through it, trusting exactly its certificate', async () => {
    expect(server.base).toMatch(/^https:/);
    const r = await runCli(['index', join(images, 'photos')], { dataDir, timeoutMs: 120_000 });
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr).toMatch(/Indexing through the running `lookalike serve` on https/);
    const count = await runCli(['count'], { dataDir });
    expect(count.code, output(count)).toBe(0);
    expect(count.stdout.trim()).toBe('3');
  });

  it('refuses a server that presents another certificate than the one it recorded', async () => {
    const path = join(dataDir, SERVER_FILE);
    const record = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(path, JSON.stringify({ ...record, tlsCert: makeCertificate('other').cert }));
    const count = await runCli(['count'], { dataDir });
    expect(count.code, output(count)).toBe(1);
    expect(count.stderr).toMatch(
      /^lookalike: Could not reach the running `lookalike serve` on https:\S+ \(pid \d+\): it presented another certificate/
    );
    await writeFile(path, JSON.stringify(record));
    server.cli.child.kill('SIGINT');
    expect((await server.cli.exited).code).toBe(0);
  });
});

describe('index beside a serve started without LOOKALIKE_IMAGE_ROOTS', () => {
  it('says the server may index no folder and spells out the restart, indexing nothing', async () => {
    const dataDir = await cliTempDir('lookalike-beside-rootless-data-');
    const images = await cliTempDir('lookalike-beside-rootless-images-');
    await writeScenes(images, 2, { firstSeed: 50 });
    await serve(dataDir, {});
    const r = await runCli(['index', images], { dataDir, timeoutMs: 120_000 });
    expect(r.code, output(r)).toBe(1);
    expect(r.stderr).toMatch(
      /^lookalike: The running `lookalike serve` on \S+ \(pid \d+\) was started without LOOKALIKE_IMAGE_ROOTS, so it may index no folder\. Either stop it \(Ctrl-C in its terminal, or kill \d+\)/m
    );
    expect(r.stderr).toMatch(
      new RegExp(
        `\\n  PORT=\\d+ LOOKALIKE_DATA_DIR=${escape(resolve(dataDir))} ` +
          `LOOKALIKE_IMAGE_ROOTS=${escape(await realpath(images))} npx lookalike serve\\n`
      )
    );
    expect(r.stderr).toMatch(/or stop it and run this command on its own/);
    const count = await runCli(['count'], { dataDir });
    expect(count.stdout.trim()).toBe('0');
  });
});
