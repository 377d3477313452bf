import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { get, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uncoveredUrls } from '../../server/cli/commands/serve';
import { cleanupCliTempDirs, cliTempDir, runCli, startCli, type CliProcess } from '../helpers/cli';

/**
 * `serve` over HTTPS, as a phone on the LAN needs it (service worker, offline search and
 * installing only work in a secure context): a real process with a certificate made here by the
 * openssl binary, and clients that trust exactly that certificate.
 */

let dir: string;
let cert: string;
let key: string;
let otherKey: string;
let ca: Buffer;

/** A self-signed certificate for localhost and 127.0.0.1, valid for two days. */
function makeCertificate(name: string): { cert: string; key: string } {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', files.key, '-out', files.cert, '-days', '2', '-subj', '/CN=localhost'],
      ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']
    ],
    { stdio: 'ignore' }
  );
  return files;
}

/**
 * The README's recipe without mkcert: a local CA (the one file a phone is told to trust) and a
 * server certificate it signs for the names and addresses the server is opened at.
 */
function makeLocalCaCertificate(): { ca: string; cert: string; key: string } {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl(
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650'],
    ...['-subj', '/CN=Lookalike local CA', '-keyout', file('ca-key.pem'), '-out', file('ca.pem')]
  );
  writeFileSync(
    file('server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:192.168.1.20\n' +
      'extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n'
  );
  openssl(
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=lookalike'],
    ...['-keyout', file('server-key.pem'), '-out', file('server.csr')]
  );
  openssl(
    ...['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem')],
    ...['-CAkey', file('ca-key.pem'), '-CAcreateserial', '-days', '397'],
    ...['-extfile', file('server.ext'), '-out', file('server.pem')]
  );
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server-key.pem') };
}

beforeAll(async () => {
  dir = await cliTempDir('lookalike-tls-');
  ({ cert, key } = makeCertificate('lookalike'));
  otherKey = makeCertificate('other').key;
  ca = await readFile(cert);
});

const started: CliProcess[] = [];
afterAll(async () => {
  for (const cli of started) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
  await cleanupCliTempDirs();
});

interface Reply {
  status: number;
  type: string;
  body: string;
}

/** GET over HTTPS (HTTP/1.1) with the given TLS options, e.g. `{ ca }`. */
function fetchTls(url: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body })
      );
      res.on('error', reject);
    });
    request.on('error', reject);
  });
}

/** What is left in a data directory: a check failing before any model work leaves it empty. */
async function contents(dataDir: string): Promise<string[]> {
  return readdir(dataDir, { recursive: true });
}

describe('lookalike serve over HTTPS', () => {
  it('serves the API, the page and its service worker over HTTPS with the given certificate', async () => {
    const cli = await startCli(['serve', '--model', 'tiny', '--port', '0'], {
      env: { LOG_LEVEL: 'warn', LOOKALIKE_TLS_CERT: cert, LOOKALIKE_TLS_KEY: key }
    });
    started.push(cli);
    const [, base] = await cli.waitForStderr(/Lookalike on (https:\/\/[^\s]+)/);

    const health = await fetchTls(`${base}/api/health`, { ca });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', model: { id: 'tiny' } });

    const page = await fetchTls(`${base}/`, { ca });
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);

    const worker = await fetchTls(`${base}/service-worker.js`, { ca });
    expect(worker.status).toBe(200);
    expect(worker.type).toMatch(/javascript/);
    expect(worker.body).toMatch(/addEventListener\(["'`]fetch["'`]/);

    // It is this certificate that is served: a client that does not trust it refuses the server.
    await expect(fetchTls(`${base}/api/health`)).rejects.toMatchObject({
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT'
    });

    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
  });

  it('serves with a certificate signed by a local CA, to clients that trust only the CA', async () => {
    const local = makeLocalCaCertificate();
    const cli = await startCli(
      ['serve', '--model', 'tiny', '--port', '0', '--tls-cert', local.cert, '--tls-key', local.key],
      { env: { LOG_LEVEL: 'warn' } }
    );
    started.push(cli);
    const [, base] = await cli.waitForStderr(/Lookalike on (https:\/\/[^\s]+)/);
    const trusted = { ca: await readFile(local.ca) };
    expect((await fetchTls(`${base}/api/health`, trusted)).status).toBe(200);
    const manifest = await fetchTls(`${base}/manifest.webmanifest`, trusted);
    expect(manifest.status).toBe(200);
    expect(JSON.parse(manifest.body)).toHaveProperty('name');
    // Trusting the self-signed certificate of the other test is not trusting this one.
    await expect(fetchTls(`${base}/api/health`, { ca })).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'
    });
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
  });

  it('names the addresses a phone would open that the certificate does not cover', async () => {
    const local = makeLocalCaCertificate();
    const certificate = new X509Certificate(await readFile(local.cert));
    const urls = ['https://localhost:5000', 'https://192.168.1.20:5000'];
    expect(uncoveredUrls(certificate, urls)).toEqual([]);
    const more = [
      ...urls,
      'https://192.168.1.21:5000',
      'https://[::1]:5000',
      'https://pc.lan:5000'
    ];
    expect(uncoveredUrls(certificate, more)).toEqual([
      'https://192.168.1.21:5000',
      'https://[::1]:5000',
      'https://pc.lan:5000'
    ]);
  });

  it('serve --help names the image folders, HOST and the TLS options', async () => {
    const help = await runCli(['serve', '--help']);
    expect(help.code).toBe(0);
    for (const name of [
      '--tls-cert <file>',
      '--tls-key <file>',
      'LOOKALIKE_TLS_CERT',
      'LOOKALIKE_TLS_KEY',
      'LOOKALIKE_IMAGE_ROOTS',
      'HOST'
    ])
      expect(help.stdout).toContain(name);
  });

  it('refuses a key that does not belong to the certificate in one line, before any model work', async () => {
    const dataDir = await cliTempDir('lookalike-tls-data-');
    const result = await runCli(
      ['serve', '--port', '0', '--tls-cert', cert, '--tls-key', otherKey],
      {
        dataDir,
        env: { LOOKALIKE_MODEL_CACHE: undefined, LOOKALIKE_MODEL_DOWNLOAD: 'false' }
      }
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `lookalike: The TLS key ${otherKey} does not belong to the certificate ${cert}: give the ` +
        'key that was made with this certificate.\n'
    );
    expect(await contents(dataDir)).toEqual([]);
  });

  it.each([
    {
      what: 'a missing key file',
      args: () => ['--tls-cert', cert, '--tls-key', join(dir, 'missing.pem')],
      message:
        /^lookalike: Cannot read the TLS key .*missing\.pem \(--tls-key or LOOKALIKE_TLS_KEY\): no such file\.\n$/
    },
    {
      what: 'the key given as the certificate',
      args: () => ['--tls-cert', key, '--tls-key', key],
      message: /^lookalike: The TLS certificate .* is not a PEM certificate .*is it the key\?\n$/
    },
    {
      what: 'a certificate without a key',
      args: () => ['--tls-cert', cert],
      message: /^lookalike: HTTPS needs both a certificate .* only the certificate was given\.\n$/
    }
  ])('says what is wrong with $what in one line', async ({ args, message }) => {
    const dataDir = await cliTempDir('lookalike-tls-data-');
    const result = await runCli(['serve', '--port', '0', ...args()], {
      dataDir,
      env: { LOOKALIKE_MODEL_CACHE: undefined, LOOKALIKE_MODEL_DOWNLOAD: 'false' }
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(await contents(dataDir)).toEqual([]);
  });
});
