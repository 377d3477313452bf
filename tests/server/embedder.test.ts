import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine, norm } from '#core/vector';
import { Embedder } from '../../server/embedding/embedder';
import { createOnnxNodeBackend } from '../../server/embedding/onnx-node-backend';
import { SharpImageDecoder } from '../../server/embedding/sharp-decoder';
import { scene } from '../helpers/images';
import { testModel } from '../helpers/models';

const decoder = new SharpImageDecoder({ maxPixels: 100_000_000, maxFileBytes: 50 * 1024 * 1024 });

async function embedderFor(id: 'tiny' | 'synthetic-resnet50', batchSize = 4) {
  const { manifest, path } = await testModel(id);
  const backend = await createOnnxNodeBackend(path, manifest, { threads: 2 });
  return new Embedder(manifest, decoder, backend, batchSize);
}

/** The same picture stored sideways with an EXIF tag saying how to turn it upright. */
async function exifTwin(jpeg: Buffer) {
  return sharp(jpeg).rotate(-90).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
}

describe.each(['tiny', 'synthetic-resnet50'] as const)('Embedder with %s', (id) => {
  let embedder: Embedder;
  let photo: Buffer;
  let other: Buffer;
  beforeAll(async () => {
    embedder = await embedderFor(id);
    photo = await scene(640, 480, 1);
    other = await scene(640, 480, 2);
  });
  afterAll(() => embedder.close());

  it('gives a unit vector of the manifest dimension', async () => {
    const v = await embedder.embedOne(photo);
    expect(v.length).toBe(embedder.manifest.dimension);
    expect(v.every(Number.isFinite)).toBe(true);
    expect(norm(v)).toBeCloseTo(1, 5);
  });

  it('gives identical vectors for the same image embedded twice', async () => {
    const a = await embedder.embedOne(photo);
    const b = await embedder.embedOne(photo);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('gives (nearly) the same vector for an EXIF-rotated twin, closer than any other picture', async () => {
    const twinBytes = await exifTwin(photo);
    const [a, twin, b] = await Promise.all(
      [photo, twinBytes, other].map((x) => embedder.embedOne(x))
    );
    const twinSimilarity = cosine(a!, twin!);
    expect(twinSimilarity).toBeGreaterThan(0.999);
    expect(twinSimilarity).toBeGreaterThan(cosine(a!, b!));
  });

  it('gives the same vector in a batch as alone', async () => {
    const alone = await embedder.embedOne(other);
    const results = await embedder.embedMany([
      { name: 'photo', bytes: photo },
      { name: 'other', bytes: other },
      { name: 'junk', bytes: new TextEncoder().encode('junk') }
    ]);
    expect(results.map((r) => r.input)).toEqual(['photo', 'other', 'junk']);
    expect(cosine(results[1]!.vector!, alone)).toBeGreaterThan(0.99999);
    expect(results[2]!.vector).toBeUndefined();
    expect(results[2]!.error).toMatch(/not an image/i);
  });
});

describe('Embedder batching', () => {
  it('keeps input order and reports each failure across several batches', async () => {
    const embedder = await embedderFor('tiny', 2);
    try {
      const good = await Promise.all([1, 2, 3, 4, 5].map((seed) => scene(200, 150, seed, 'png')));
      const inputs = [
        { name: 'g1', bytes: good[0]! },
        { name: 'empty', bytes: new Uint8Array(0) },
        { name: 'g2', bytes: good[1]! },
        { name: 'g3', bytes: good[2]! },
        { name: 'cut', bytes: good[3]!.subarray(0, 100) },
        { name: 'g5', bytes: good[4]! }
      ];
      const seen: string[] = [];
      const results = await embedder.embedMany(inputs, (r) => seen.push(r.input));
      expect(seen).toEqual(inputs.map((i) => i.name));
      expect(results.filter((r) => r.vector).map((r) => r.input)).toEqual(['g1', 'g2', 'g3', 'g5']);
      expect(results.find((r) => r.input === 'empty')!.error).toMatch(/empty/i);
      expect(results.find((r) => r.input === 'cut')!.error).toBeTruthy();
      // Distinct pictures get distinct vectors.
      expect(cosine(results[0]!.vector!, results[2]!.vector!)).toBeLessThan(0.999);
    } finally {
      await embedder.close();
    }
  });
});
