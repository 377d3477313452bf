import { readdir } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenError } from '../../server/cli/commands/serve';
import { loadConfig } from '../../server/config';
import { UserError } from '../../server/errors';
import { cleanupCliTempDirs, cliTempDir, runCli } from '../helpers/cli';

/**
 * A port already taken is what a second `npm start` meets. It must be one line naming the port
 * and how to choose another, before the model is downloaded, generated or loaded (a fresh data
 * directory would otherwise first get a 94 MB generated model).
 */

let occupied: Server;
let port: number;

beforeAll(async () => {
  occupied = createServer();
  await new Promise<void>((resolve) => occupied.listen(0, '127.0.0.1', resolve));
  port = (occupied.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => occupied.close(resolve));
  await cleanupCliTempDirs();
});

/** A first start on a fresh data directory: the model cache inside it, no download allowed. */
function firstStart(args: string[], env: Record<string, string> = {}) {
  return cliTempDir('lookalike-port-data-').then(async (dataDir) => {
    const result = await runCli(['serve', ...args], {
      dataDir,
      env: { LOOKALIKE_MODEL_CACHE: undefined, LOOKALIKE_MODEL_DOWNLOAD: 'false', ...env }
    });
    return { result, left: await readdir(dataDir, { recursive: true }) };
  });
}

describe('lookalike serve on a port in use', () => {
  it('says so in one line naming the port, --port and PORT, before any model work', async () => {
    const { result, left } = await firstStart(['--port', String(port)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `lookalike: Port ${port} is already in use on 127.0.0.1 (another Lookalike or another ` +
        'server?): stop it, or choose another port with --port <n> or PORT=<n>.\n'
    );
    // No model was generated (nor a collection created) in the fresh data directory.
    expect(left).toEqual([]);
    // Generating the synthetic ResNet-50 alone takes seconds; this is start-up time only.
    expect(result.ms).toBeLessThan(15_000);
  });

  it('reads the port from PORT the same way', async () => {
    const { result, left } = await firstStart([], { PORT: String(port) });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^lookalike: Port ${port} is already in use`));
    expect(result.stderr.split('\n')).toHaveLength(2); // one line and its newline
    expect(left).toEqual([]);
  });

  it('names HOST when it is not an address of this machine', async () => {
    // 203.0.113.0/24 is TEST-NET-3 (RFC 5737): documentation only, never a local address.
    const { result, left } = await firstStart(['--port', '0'], { HOST: '203.0.113.7' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^lookalike: Cannot listen on 203\.0\.113\.7:0: "203\.0\.113\.7" is not an address of this machine\. Set HOST .*\n$/
    );
    expect(left).toEqual([]);
  });

  it('turns a port taken after the check (while the model loaded) into the same one line', async () => {
    const config = loadConfig({ port: String(port) }, {});
    // The error a late bind gets, from the real occupied port.
    const late = await new Promise<Error>((resolve) => {
      const server = createServer();
      server.once('error', resolve);
      server.listen(port, '127.0.0.1');
    });
    expect((late as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    const error = listenError(late, config);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(
      new RegExp(`^Port ${port} is already in use on 127\\.0\\.0\\.1.*--port <n> or PORT=<n>\\.$`)
    );
  });
});
