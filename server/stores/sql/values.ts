import { and, gte, lt, type Column, type SQL } from 'drizzle-orm';

/** Value encodings and limits both SQL dialects (SQLite, MySQL) share. */

/** A vector as a BLOB: float32, little-endian (the platform order on every supported CPU). */
export const toBlob = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/**
 * Copies: a driver's Buffer can be a view at any offset into a larger packet, and a Float32Array
 * needs its own 4-byte-aligned buffer.
 */
export const fromBlob = (b: Uint8Array) => new Float32Array(new Uint8Array(b).buffer);

/**
 * "`column` is a path strictly below folder `root`", exact by construction: in byte order (SQLite's
 * BINARY collation, MySQL's VARBINARY column) the paths that start with `root/` are exactly those
 * >= `root/` and < `root0`, since '0' is the byte after '/'. A range, so it is an index range
 * scan on both. Not LIKE: SQLite's ignores ASCII case (R/photos took R/Photos along), and MariaDB
 * plans `LIKE 'p/%'` on a PAD SPACE collation as an index range that misses names starting below
 * ' ' or above U+FFFF.
 */
export function pathsBelow(column: Column, root: string): SQL {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return and(gte(column, prefix), lt(column, `${prefix.slice(0, -1)}0`))!;
}

/**
 * Keys per IN (…) list: below SQLite's bound-parameter limit (999 before 3.32) and short enough
 * for any MySQL packet.
 */
export const IN_CHUNK = 500;
/**
 * Rows per multi-row INSERT: 100 × 9 parameters stays under SQLite's limit, and 100 × a 2048-d
 * vector (16 KiB escaped) far below MySQL's max_allowed_packet.
 */
export const INSERT_CHUNK = 100;

export function* chunks<T>(list: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < list.length; i += size) yield list.slice(i, i + size);
}

/** Sorts paths by their UTF-8 bytes (code points): SQLite's BINARY collation and VARBINARY order. */
export function byBytes<T>(items: readonly T[], path: (item: T) => string): T[] {
  const keyed = items.map((item) => ({ item, key: Buffer.from(path(item), 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.item);
}
