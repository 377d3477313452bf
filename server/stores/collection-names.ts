import { z } from 'zod';

/**
 * Collection names: the one rule every layer (stores, HTTP, CLI, bootcamp `table_name`) checks.
 * Letters, digits, `_` and `-`, not starting with `-` (so a name is never read as a CLI option),
 * at most 64 characters; compared exactly, so `Photos` and `photos` are two collections. The
 * character set is what every backend can carry unchanged: a file-name part for the embedded
 * index, a Milvus collection name after escaping `_` and `-`, a VARBINARY(64) key in MySQL.
 */
export const COLLECTION_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

/** The collection that always exists: today's data, and what every request without a name uses. */
export const DEFAULT_COLLECTION = 'default';

export const collectionNameSchema = z
  .string()
  .regex(
    COLLECTION_NAME_PATTERN,
    'A collection name is 1 to 64 letters, digits, "_" or "-", not starting with "-" (case-sensitive).'
  )
  .meta({ description: 'Collection name (case-sensitive)', example: DEFAULT_COLLECTION });

export function isCollectionName(name: unknown): name is string {
  return typeof name === 'string' && COLLECTION_NAME_PATTERN.test(name);
}
