/** Value encodings both SQL catalogs (SQLite, MySQL) share. */

/** A vector as a BLOB: float32, little-endian (the platform order on every supported CPU). */
export const toBlob = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/**
 * Copies: a driver's Buffer can be a view at any offset into a larger packet, and a Float32Array
 * needs its own 4-byte-aligned buffer.
 */
export const fromBlob = (b: Uint8Array) => new Float32Array(new Uint8Array(b).buffer);

/**
 * LIKE pattern for "starts with `prefix`", to be used with `ESCAPE '!'`: a folder named
 * `100%_done` matches only itself. `!` rather than backslash, whose meaning in string literals
 * depends on MySQL's sql_mode.
 */
export const likePrefix = (prefix: string) => `${prefix.replace(/[!%_]/g, (c) => `!${c}`)}%`;
