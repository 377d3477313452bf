import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupCliTempDirs,
  cliTempDir,
  REPO_ROOT,
  startCli,
  type CliProcess
} from '../helpers/cli';
import { scene } from '../helpers/images';
import { errorOf, imageForm, jsonRequest, startTestServer, writeScenes } from './helpers';

/**
 * The OpenAPI document tells the truth: Schemathesis (tests/infra/schemathesis) sends examples,
 * boundary and fuzzed requests, plus linked sequences, to a real server and checks every answer
 * against the document: no 5xx, only documented status codes and content types, bodies and
 * headers as documented.
 *
 * By design, some well-formed requests are refused with a documented 400 and Schemathesis warns
 * ("schema validation mismatch") rather than fails: random bytes are not a usable image
 * (`invalid_image` on /api/encode, /api/search/image, /img/upload, /img/search), a query vector
 * of all zeros or with values whose squares overflow cannot be normalised (/api/search), and
 * made-up job ids and paths are 404.
 */

const execFileAsync = promisify(execFile);
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
  'response_headers_conformance'
];
/** Per operation: the whole run takes about 20 s on two cores. */
const MAX_EXAMPLES = 10;

/** The venv's `st`, made (or updated from the pinned requirements) by the infra script. */
async function schemathesis(): Promise<{ st?: string; why?: string }> {
  try {
    const { stdout } = await execFileAsync(
      'bash',
      [join(REPO_ROOT, 'tests/infra/schemathesis/start.sh')],
      { timeout: 300_000 }
    );
    return { st: stdout.trim() };
  } catch (error) {
    return { why: (error as { stderr?: string }).stderr ?? String(error) };
  }
}
const { st, why } = await schemathesis();

afterAll(() => cleanupCliTempDirs());

describe.skipIf(!st)(
  `the OpenAPI document vs the server (Schemathesis${why ? `: ${why}` : ''})`,
  () => {
    let server: CliProcess | undefined;
    let base = '';

    beforeAll(async () => {
      const images = await cliTempDir('lookalike-openapi-images-');
      await writeScenes(join(images, 'pictures'), 3);
      server = await startCli(['serve', '--model', 'tiny', '--port', '0'], {
        env: { LOG_LEVEL: 'warn', LOOKALIKE_IMAGE_ROOTS: images },
        timeoutMs: 300_000
      });
      base = (await server.waitForStderr(/Lookalike on (http:\/\/[^\s]+)/, 60_000))[1]!;
      // Something to find, so image ids, paths and jobs exist for the linked requests.
      const res = await fetch(`${base}/api/index`, jsonRequest({ path: join(images, 'pictures') }));
      expect(res.status).toBe(202);
    }, 90_000);

    afterAll(async () => {
      if (server && server.child.exitCode === null) {
        server.child.kill('SIGINT');
        await server.exited;
      }
    });

    it('answers as documented (no Schemathesis findings)', async () => {
      const args = [
        'run',
        `${base}/api/openapi.json`,
        '--checks',
        CHECKS.join(','),
        '--max-examples',
        String(MAX_EXAMPLES),
        // One worker: hypothesis's lambda introspection is not thread-safe on Python 3.11 (a
        // rare "AST constructor recursion depth mismatch" runtime error with two).
        '--workers',
        '1',
        '--seed',
        '1',
        '--no-shrink',
        '--request-timeout',
        '10'
      ];
      const result = await execFileAsync(st!, args, {
        timeout: 150_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, NO_COLOR: '1', COLUMNS: '120' },
        cwd: await cliTempDir('lookalike-schemathesis-') // its .schemathesis cache stays out of the repo
      }).then(
        ({ stdout }) => ({ code: 0, output: stdout }),
        (error: { code?: number; stdout?: string; stderr?: string }) => ({
          code: error.code ?? -1,
          output: `${error.stdout ?? ''}${error.stderr ?? ''}`
        })
      );
      // The findings, each with its curl line, are the part worth reading.
      expect(result.code, result.output.slice(-20_000)).toBe(0);
      expect(result.output).toMatch(/\d+ generated, \d+ passed/);
    }, 180_000);
  }
);

describe('multipart fields', () => {
  it('refuses a topK sent twice', async () => {
    const server = await startTestServer();
    try {
      const form = imageForm(await scene(64, 48, 1), { topK: '3' });
      form.append('topK', '5');
      const res = await server.app.request('/api/search/image', { method: 'POST', body: form });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).error.message).toMatch(/^topK: /);
    } finally {
      await server.close();
    }
  });
});
