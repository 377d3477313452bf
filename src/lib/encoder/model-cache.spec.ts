import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { matchesSha256 } from './model-cache';

describe('matchesSha256', () => {
  const bytes = new TextEncoder().encode('an ONNX file, or so it says').buffer;
  const sha256 = createHash('sha256').update(new Uint8Array(bytes)).digest('hex');

  it('accepts the published hash (in either case) and refuses any other', async () => {
    expect(await matchesSha256(bytes, sha256)).toBe(true);
    expect(await matchesSha256(bytes, sha256.toUpperCase())).toBe(true);
    expect(
      await matchesSha256(
        bytes,
        sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'))
      )
    ).toBe(false);
  });

  it('accepts anything when no hash is published (generated models)', async () => {
    expect(await matchesSha256(bytes, undefined)).toBe(true);
  });
});
