import { describe, expect, it } from 'vitest';
import {
  collectionNameSchema,
  DEFAULT_COLLECTION,
  isCollectionName
} from '../../server/stores/collection-names';

describe('collection names', () => {
  const good = [DEFAULT_COLLECTION, 'a', 'A', '0', '_x', 'Photos-2024_v2', 'x'.repeat(64)];
  const bad = ['', '-x', 'a b', ' a', 'a/b', 'a.b', 'é', 'a\u0000', 'x'.repeat(65), 'default '];

  it('accepts letters, digits, _ and -, not starting with -, up to 64', () => {
    for (const name of good) {
      expect(isCollectionName(name)).toBe(true);
      expect(collectionNameSchema.parse(name)).toBe(name);
    }
  });

  it('refuses anything else, saying what is allowed', () => {
    for (const name of bad) {
      expect(isCollectionName(name)).toBe(false);
      const result = collectionNameSchema.safeParse(name);
      expect(result.success).toBe(false);
      expect(result.error!.issues[0]!.message).toMatch(/1 to 64 letters, digits, "_" or "-"/);
    }
    expect(isCollectionName(undefined)).toBe(false);
    expect(isCollectionName(7)).toBe(false);
  });
});
