import { and, gte, lt, type Column, type SQL } from 'drizzle-orm';

/** Value encodings both SQL catalogs (SQLite, MySQL) share. */

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
