import { writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../server/errors';
import { cleanupCliTempDirs, cliTempDir, runCli } from '../helpers/cli';
import { scene } from '../helpers/images';
import {
  freePort,
  milvusLitePython,
  PrivateMilvusLite,
  uniqueCollectionName
} from '../helpers/milvus';
import { dropDatabase, mysqlReachable, mysqlTestUrl } from '../helpers/mysql';
import {
  errorOf,
  indexAndWait,
  jsonRequest,
  startTestServer,
  writeScenes,
  type ErrorBody,
  type TestServer
} from '../http/helpers';

/**
 * "A store is down" reads the same whichever store it is: HTTP 503 `store_unavailable` in the
 * common error shape, and one line from the CLI, for MySQL and for Milvus alike.
 */

afterAll(cleanupCliTempDirs);

const python = await milvusLitePython();
const mysqlUp = await mysqlReachable();

/** Indexes two pictures, takes the store away, and returns the answer to a search. */
async function searchWithStoreDown(server: TestServer, takeDown: () => Promise<void>) {
  await writeScenes(server.imagesRoot, 2);
  expect(await indexAndWait(server.app, server.imagesRoot)).toMatchObject({ indexed: 2 });
  const vector = Array.from(
    { length: server.runtime.model.manifest.dimension },
    (_, i) => (i % 3) - 1
  );
  await takeDown();
  // In process (what the CLI's search calls): the app's own error type.
  await expect(server.runtime.collection.search(vector, 2)).rejects.toBeInstanceOf(
    StoreUnavailableError
  );
  const res = await server.app.request('/api/search', jsonRequest({ vector, topK: 2 }));
  return { status: res.status, body: await errorOf(res) };
}

/** A TCP relay to MariaDB that can be cut: what a MySQL outage looks like to the app. */
async function mysqlRelay(): Promise<{ port: number; cut(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(3306, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    cut: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      })
  };
}

/** The error shape with its values replaced by their types. */
const shape = (body: ErrorBody) => ({
  error: { code: typeof body.error.code, message: typeof body.error.message }
});

describe('a store that is down', () => {
  it.skipIf(!('python' in python) || !mysqlUp)(
    'answers HTTP 503 store_unavailable in the same shape for Milvus as for MySQL',
    async () => {
      // Milvus Lite of this test's own (never the shared one), killed after indexing.
      const milvus = await PrivateMilvusLite.start((python as { python: string }).python);
      const withMilvus = await startTestServer({
        MILVUS_ADDRESS: milvus.address,
        MILVUS_COLLECTION: uniqueCollectionName()
      });
      let milvusDown;
      try {
        milvusDown = await searchWithStoreDown(withMilvus, () => milvus.stop('SIGKILL'));
      } finally {
        await withMilvus.close().catch(() => undefined);
        await milvus.dispose();
      }

      const relay = await mysqlRelay();
      const url = new URL(mysqlTestUrl());
      const database = url.href;
      url.port = String(relay.port);
      const withMysql = await startTestServer({ MYSQL_URL: url.href });
      let mysqlDown;
      try {
        mysqlDown = await searchWithStoreDown(withMysql, relay.cut);
      } finally {
        await withMysql.close().catch(() => undefined);
        await dropDatabase(database);
      }

      expect(milvusDown.status).toBe(503);
      expect(milvusDown.body.error.code).toBe('store_unavailable');
      expect(milvusDown.body.error.message).toMatch(/^Milvus at 127\.0\.0\.1:\d+ is unreachable/);
      expect(mysqlDown.status).toBe(503);
      expect(mysqlDown.body.error.code).toBe('store_unavailable');
      expect(mysqlDown.body.error.message).toMatch(/^MySQL at 127\.0\.0\.1:\d+ is unreachable/);
      expect(shape(milvusDown.body)).toEqual(shape(mysqlDown.body));
    },
    180_000
  );

  it('makes the CLI say so in one line and exit 1, without a stack trace', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const image = join(await cliTempDir('lookalike-cli-query-'), 'query.jpg');
    await writeFile(image, await scene(64, 48, 3));
    const env = { MILVUS_ADDRESS: closed };
    const [search, count] = await Promise.all([
      runCli(['search', image, '--model', 'tiny'], { env, timeoutMs: 120_000 }),
      runCli(['count', '--model', 'tiny'], { env, timeoutMs: 120_000 })
    ]);
    for (const r of [search, count]) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      // Start-up logs its retries as JSON lines; the failure itself is one human line.
      const human = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
      expect(human, r.stderr).toEqual([
        expect.stringMatching(new RegExp(`^lookalike: Milvus .*unreachable.*${closed}`))
      ]);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  }, 180_000);
});
