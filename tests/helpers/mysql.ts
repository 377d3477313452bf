import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

/** The server the MySQL store tests use (a database per test is created on it and dropped). */
export const MYSQL_TEST_SERVER =
  process.env.LOOKALIKE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

/** `host:port` of the test server, for skip messages (never the credentials). */
export function mysqlTestServerAddress(): string {
  const url = new URL(MYSQL_TEST_SERVER);
  return `${url.hostname}:${url.port || '3306'}`;
}

/** The test server's URL with a fresh database name, e.g. `…/lookalike_test_1a2b3c4d5e6f`. */
export function mysqlTestUrl(): string {
  const url = new URL(MYSQL_TEST_SERVER);
  url.pathname = `/lookalike_test_${randomBytes(6).toString('hex')}`;
  return url.href;
}

/** The database a URL names. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** A connection to the test server, without a database. */
export async function adminConnection(): Promise<mysql.Connection> {
  const url = new URL(MYSQL_TEST_SERVER);
  url.pathname = '/';
  return mysql.createConnection({ uri: url.href, connectTimeout: 3000 });
}

export async function dropDatabase(url: string): Promise<void> {
  const conn = await adminConnection();
  try {
    await conn.query('DROP DATABASE IF EXISTS ??', [databaseOf(url)]);
  } finally {
    await conn.end();
  }
}

/** Whether the test server answers (tests that need it are skipped, loudly, when it does not). */
export async function mysqlReachable(): Promise<boolean> {
  try {
    const conn = await adminConnection();
    await conn.ping();
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

/** Ids of the server connections using `database`. */
export async function connectionsTo(database: string): Promise<number[]> {
  const conn = await adminConnection();
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ?',
      [database]
    );
    return rows.map((r) => Number(r.ID));
  } finally {
    await conn.end();
  }
}

/** KILLs every connection using `database` (what a server restart or an idle timeout does to them). */
export async function killConnections(database: string): Promise<number> {
  const ids = await connectionsTo(database);
  const conn = await adminConnection();
  try {
    for (const id of ids) {
      // The connection may already be gone (ER_NO_SUCH_THREAD).
      await conn.query('KILL ?', [id]).catch(() => undefined);
    }
  } finally {
    await conn.end();
  }
  return ids.length;
}
