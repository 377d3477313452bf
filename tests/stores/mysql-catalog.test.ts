import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import type mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../server/errors';
import { DEFAULT_COLLECTION } from '../../server/stores/collection-names';
import {
  isConnectionError,
  MysqlCatalog,
  MysqlCatalogStore,
  pathHash,
  StoreUnavailableError
} from '../../server/stores/mysql/mysql-catalog';
import {
  adminConnection,
  connectionsTo,
  databaseOf,
  dropDatabase,
  killConnections,
  mysqlReachable,
  mysqlTestServerAddress,
  mysqlTestUrl
} from '../helpers/mysql';
import { describeCatalogContract, newImage } from './catalog.contract';
import {
  describeCollectionsContract,
  describeUpgradeFromBeforeCollections,
  migrationsBefore
} from './collections.contract';
import { describeJobStoreContract } from './job-store.contract';

const MYSQL_MIGRATIONS = fileURLToPath(
  new URL('../../server/stores/mysql/migrations', import.meta.url)
);

const reachable = await mysqlReachable();
const server = mysqlTestServerAddress();
if (!reachable) {
  console.warn(
    `MySQL store tests SKIPPED: no MySQL/MariaDB at ${server}. Install mariadb-server, or point ` +
      'LOOKALIKE_TEST_MYSQL_URL at a server where the user may create and drop databases.'
  );
}

/** A catalog on a fresh database, dropped afterwards. */
async function freshCatalog() {
  const url = mysqlTestUrl();
  const catalog = await MysqlCatalog.open(url);
  return {
    url,
    catalog,
    cleanup: async () => {
      await catalog.close();
      await dropDatabase(url);
    }
  };
}

describe.skipIf(!reachable)(
  reachable
    ? `MySQL catalog (${server})`
    : `MySQL catalog — SKIPPED: no MySQL/MariaDB at ${server}`,
  () => {
    describeCatalogContract('MySQL', freshCatalog);

    describeCollectionsContract('MySQL', async () => {
      const url = mysqlTestUrl();
      const store = await MysqlCatalogStore.open(url);
      return {
        store,
        cleanup: async () => {
          await store.close();
          await dropDatabase(url);
        }
      };
    });

    describeUpgradeFromBeforeCollections('MySQL', async () => {
      const url = mysqlTestUrl();
      const dir = await mkdtemp(join(tmpdir(), 'lookalike-migrations-'));
      return {
        async build({ settings, images, vector, paths, removed }) {
          // The schema as the release before collections left it: migrations 0000-0002.
          const old = await migrationsBefore(MYSQL_MIGRATIONS, join(dir, 'migrations'), 3);
          const conn = await adminConnection();
          try {
            await conn.query('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_bin', [
              databaseOf(url)
            ]);
            await conn.query('USE ??', [databaseOf(url)]);
            await migrate(drizzle({ client: conn }), { migrationsFolder: old });
            for (const [key, value] of settings)
              await conn.query('INSERT INTO collection VALUES (?, ?)', [key, value]);
            for (const { id, contentHash, format, state, seq } of images)
              await conn.query("INSERT INTO images VALUES (?, ?, 10, 20, 30, ?, '00', ?, ?, ?)", [
                id,
                contentHash,
                format,
                vector,
                state,
                seq
              ]);
            for (const [path, imageId, mtimeMs] of paths)
              await conn.query('INSERT INTO paths VALUES (?, ?, ?, 30, ?)', [
                pathHash(path),
                path,
                imageId,
                mtimeMs
              ]);
            for (const [seq, imageId] of removed)
              await conn.query('INSERT INTO removed VALUES (?, ?)', [seq, imageId]);
          } finally {
            await conn.end();
          }
        },
        openStore: () => MysqlCatalogStore.open(url),
        openCatalog: () => MysqlCatalog.open(url),
        cleanup: async () => {
          await rm(dir, { recursive: true, force: true });
          await dropDatabase(url);
        }
      };
    });

    describeJobStoreContract('MySQL', async () => {
      const { url, catalog, cleanup } = await freshCatalog();
      return {
        jobs: catalog.jobStore(),
        catalog,
        cleanup,
        writeRaw: async (jobId, state, record) => {
          const conn = await adminConnection();
          try {
            await conn.query(
              'INSERT INTO ??.jobs (job_id, state, created_at, record) VALUES (?, ?, 1, ?)',
              [databaseOf(url), jobId, state, record]
            );
          } finally {
            await conn.end();
          }
        }
      };
    });

    it('keeps committed data across a reopen and applies each migration once', async () => {
      const url = mysqlTestUrl();
      try {
        const first = await MysqlCatalog.open(url);
        await first.claimCollection({ modelId: 'tiny', dimension: 4 });
        await first.addImages([newImage(7, '/p/a.jpg')]);
        await first.close();
        const second = await MysqlCatalog.open(url);
        expect(await second.countImages()).toBe(1);
        expect(await second.collectionModel()).toEqual({ modelId: 'tiny', dimension: 4 });
        expect(Array.from((await second.vectorsChangedSince(0, 1))[0]!.vector)).toEqual(
          Array.from(newImage(7, '').vector)
        );
        await second.close();
        const conn = await adminConnection();
        try {
          const [rows] = await conn.query('SELECT hash FROM ??.__drizzle_migrations', [
            databaseOf(url)
          ]);
          const hashes = (rows as { hash: string }[]).map((r) => r.hash);
          // Each committed migration once (the journal lists them; new ones add to it).
          const journal = JSON.parse(
            await readFile(join(MYSQL_MIGRATIONS, 'meta', '_journal.json'), 'utf8')
          ) as { entries: unknown[] };
          expect(hashes.length).toBe(journal.entries.length);
          expect(hashes.length).toBeGreaterThanOrEqual(5);
          expect(new Set(hashes).size).toBe(hashes.length);
        } finally {
          await conn.end();
        }
      } finally {
        await dropDatabase(url);
      }
    });

    it('lets two servers create the same collection at once: one collection', async () => {
      const url = mysqlTestUrl();
      try {
        const stores = await Promise.all([1, 2].map(() => MysqlCatalogStore.open(url)));
        try {
          for (const name of ['x1', 'x2', 'x3']) {
            const created = await Promise.all(
              [...stores, ...stores].map((s) => s.createCollection(name))
            );
            expect(new Set(created.map((c) => c.id)).size).toBe(1);
          }
          expect((await stores[1]!.listCollections()).map((c) => c.name)).toEqual([
            DEFAULT_COLLECTION,
            'x1',
            'x2',
            'x3'
          ]);
        } finally {
          await Promise.all(stores.map((s) => s.close()));
        }
      } finally {
        await dropDatabase(url);
      }
    });

    it('lets several servers open a new database at once (migrations under a lock)', async () => {
      const url = mysqlTestUrl();
      try {
        const catalogs = await Promise.all([1, 2, 3].map(() => MysqlCatalog.open(url)));
        await catalogs[0]!.addImages([newImage(1, '/p/a.jpg')]);
        expect(await catalogs[2]!.countImages()).toBe(1);
        await Promise.all(catalogs.map((c) => c.close()));
      } finally {
        await dropDatabase(url);
      }
    });

    it('creates its database with a binary utf8mb4 collation and InnoDB tables', async () => {
      const { url, catalog, cleanup } = await freshCatalog();
      try {
        const conn = await adminConnection();
        try {
          const [schemata] = await conn.query(
            'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
            [databaseOf(url)]
          );
          expect(schemata).toEqual([{ cs: 'utf8mb4', co: 'utf8mb4_bin' }]);
          const [engines] = await conn.query(
            'SELECT DISTINCT ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
            [databaseOf(url)]
          );
          expect(engines).toEqual([{ engine: 'InnoDB' }]);
        } finally {
          await conn.end();
        }
        expect(await catalog.countImages()).toBe(0);
      } finally {
        await cleanup();
      }
    });

    it('upgrades paths to bytes in place, and lists a folder through the prefix index', async () => {
      // A database as the release before migration 0002 left it: utf8mb4_bin paths.
      const url = mysqlTestUrl();
      const old = await mkdtemp(join(tmpdir(), 'lookalike-migrations-'));
      try {
        await migrationsBefore(MYSQL_MIGRATIONS, old, 2);
        const conn = await adminConnection();
        try {
          await conn.query('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_bin', [
            databaseOf(url)
          ]);
          await conn.query('USE ??', [databaseOf(url)]);
          await migrate(drizzle({ client: conn }), { migrationsFolder: old });
          await conn.query(
            "INSERT INTO images VALUES (1, REPEAT('1', 64), 1, 1, 1, 'jpeg', '0', x'0000803f', 'indexed', 1)"
          );
          for (const path of ['/R/photos/\u{1F600}.jpg', '/R/Photos/a.jpg', '/R/photos/\tb.jpg']) {
            await conn.query('INSERT INTO paths VALUES (?, ?, 1, 1, 1)', [pathHash(path), path]);
          }
        } finally {
          await conn.end();
        }

        const catalog = await MysqlCatalog.open(url);
        try {
          expect((await catalog.pathsUnder('/R/photos')).map((p) => p.path).sort()).toEqual([
            '/R/photos/\tb.jpg',
            '/R/photos/\u{1F600}.jpg'
          ]);
          expect((await catalog.getPath('/R/Photos/a.jpg'))?.imageId).toBe(1);
          const admin = await adminConnection();
          try {
            await admin.query('USE ??', [databaseOf(url)]);
            const [columns] = await admin.query<mysql.RowDataPacket[]>(
              "SELECT DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'paths' AND COLUMN_NAME = 'path'",
              [databaseOf(url)]
            );
            expect(columns).toEqual([{ type: 'varbinary' }]);
            // Enough rows elsewhere that a scan of the whole table is not the cheaper plan.
            for (let i = 0; i < 300; i++) {
              const p = `/other/${i}.jpg`;
              await admin.query(
                'INSERT INTO paths (collection_id, path_hash, path, image_id, size, mtime_ms) VALUES (1, ?, ?, 1, 1, 1)',
                [pathHash(p), p]
              );
            }
            await admin.query('ANALYZE TABLE paths');
            const [plan] = await admin.query<mysql.RowDataPacket[]>(
              "EXPLAIN SELECT path FROM paths WHERE collection_id = 1 AND path >= x'2f522f70686f746f732f' AND path < x'2f522f70686f746f7330'"
            );
            expect(plan[0]).toMatchObject({ type: 'range', key: 'paths_path_prefix' });
          } finally {
            await admin.end();
          }
        } finally {
          await catalog.close();
        }
      } finally {
        await rm(old, { recursive: true, force: true });
        await dropDatabase(url);
      }
    });

    it('reconnects after its connections are killed (idle disconnect, server restart)', async () => {
      const { url, catalog, cleanup } = await freshCatalog();
      try {
        const { ids } = await catalog.addImages([newImage(1, '/p/a.jpg')]);
        // Several connections in the pool, all idle.
        await Promise.all([1, 2, 3].map(() => catalog.countImages()));
        expect(await killConnections(databaseOf(url))).toBeGreaterThan(0);
        expect(await catalog.countImages()).toBe(1);

        // Again, straight into a write transaction.
        expect(await killConnections(databaseOf(url))).toBeGreaterThan(0);
        const more = await catalog.addImages([newImage(2, '/p/b.jpg')]);
        expect(more.ids[0]).toBeGreaterThan(ids[0]!);
        expect(await catalog.ping()).toBe(true);
        expect(await connectionsTo(databaseOf(url))).not.toEqual([]);
      } finally {
        await cleanup();
      }
    });

    it('says clearly when the server refuses the login (not a wait-and-retry case)', async () => {
      const url = new URL(mysqlTestUrl());
      url.username = 'lookalike_no_such_user';
      url.password = 'wrong';
      const error = await MysqlCatalog.open(url.href).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect(error).not.toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toMatch(
        /^MySQL at .* refused the login \(ER_ACCESS_DENIED_(NO_PASSWORD_)?ERROR\)/
      );
      expect((error as Error).message).not.toMatch(/wrong/);
    });

    it('answers ping: true while the server answers, false once closed', async () => {
      const { url, catalog } = await freshCatalog();
      try {
        expect(await catalog.ping()).toBe(true);
        await catalog.close();
        expect(await catalog.ping()).toBe(false);
        // Closed means closed: no retry, no reconnect.
        await expect(catalog.countImages()).rejects.toThrow(/Pool is closed/);
      } finally {
        await dropDatabase(url);
      }
    });
  }
);

describe('MySQL catalog without a server', () => {
  it('says clearly when the server is unreachable', async () => {
    const error = await MysqlCatalog.open('mysql://root@127.0.0.1:1/lookalike', {
      connectTimeoutMs: 2000
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toBe('MySQL at 127.0.0.1:1 is unreachable (ECONNREFUSED)');
  });

  it('refuses a URL without a usable database name', async () => {
    await expect(MysqlCatalog.open('mysql://root@127.0.0.1:1')).rejects.toBeInstanceOf(UserError);
    await expect(MysqlCatalog.open('mysql://root@127.0.0.1:1/a;b')).rejects.toThrow(/not allowed/);
  });

  it('retries connection-level failures only', () => {
    const wrapped = (cause: object) => Object.assign(new Error('Failed query: …'), { cause });
    for (const code of [
      'PROTOCOL_CONNECTION_LOST',
      'ECONNRESET',
      'ECONNREFUSED',
      'ER_SERVER_SHUTDOWN'
    ]) {
      expect(isConnectionError(wrapped(Object.assign(new Error(code), { code })))).toBe(true);
    }
    expect(isConnectionError(wrapped({ errno: 1927, code: undefined }))).toBe(true);
    expect(
      isConnectionError(
        Object.assign(new Error("Can't add new command when connection is in closed state"), {
          fatal: true
        })
      )
    ).toBe(true);
    expect(isConnectionError(new Error('Pool is closed.'))).toBe(false);
    expect(
      isConnectionError(
        wrapped(Object.assign(new Error('dup'), { code: 'ER_DUP_ENTRY', errno: 1062 }))
      )
    ).toBe(false);
    expect(isConnectionError(new UserError('nope'))).toBe(false);
  });
});
