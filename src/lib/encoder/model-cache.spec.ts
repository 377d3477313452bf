import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { matchesSha256, modelFileKey, modelInfoKey, sameModelFile } from './model-cache';

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

describe('model cache keys', () => {
  const resnet = { id: 'resnet50', fileUrl: '/api/model/file?v=2c1b', fileSha256: '2C1B' };
  const lite = { id: 'efficientnet-lite0', fileUrl: '/api/model/file?v=9f00&collection=w' };

  it('keeps one file per model and version, whichever collection asked', () => {
    const sameForAnother = { ...resnet, fileUrl: '/api/model/file?v=2c1b&collection=products' };
    expect(modelFileKey(sameForAnother)).toBe(modelFileKey(resnet));
    expect(sameModelFile(sameForAnother, resnet)).toBe(true);
  });

  it('gives another model, or another version, another key', () => {
    expect(sameModelFile(resnet, lite)).toBe(false);
    const newer = { ...lite, fileUrl: '/api/model/file?v=9f01&collection=w' };
    expect(modelFileKey(newer)).not.toBe(modelFileKey(lite));
    // Generated models publish no SHA-256: the URL's version tells them apart.
    const tinyA = { id: 'tiny', fileUrl: '/api/model/file?v=100-1' };
    const tinyB = { id: 'tiny', fileUrl: '/api/model/file?v=100-2' };
    expect(sameModelFile(tinyA, tinyB)).toBe(false);
  });

  it("keeps each collection's last manifest apart, the default's under its old key", () => {
    expect(modelInfoKey('default')).toBe('/__lookalike/model-info.json');
    expect(modelInfoKey('products')).not.toBe(modelInfoKey('default'));
    expect(modelInfoKey('products')).not.toBe(modelInfoKey('wallpapers'));
  });
});
