import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelManifest, ScoreBands } from '#core/model-manifest';
import { differenceHash, hammingDistance } from '#core/dhash';
import { dot } from '#core/vector';
import { Embedder } from '../../server/embedding/embedder';
import { createOnnxNodeBackend } from '../../server/embedding/onnx-node-backend';
import { SharpImageDecoder } from '../../server/embedding/sharp-decoder';
import { SAME_PICTURE_HAMMING } from '../../server/services/duplicates';
import { photoCorpus, type CorpusPicture } from '../helpers/photo-corpus';
import { EDIT_KINDS, editedQueries, QUALITY_SEED } from '../helpers/photo-edits';
import { realModel } from '../helpers/real-model';

/**
 * The measurements behind EfficientNet-Lite0's score bands (models/efficientnet-lite0.json
 * `scores`) and the duplicates hash limit, redone on every run so the bands cannot drift from
 * what the model does: the corpus photos, their seeded edits, and two plain copies per photo
 * (JPEG q75 at full size; 640 px, q85), all encoded the way the server does. The numbers measured
 * when the bands were set are in the manifest's `measured` text.
 */

interface Item {
  /** The photo it shows (a distractor: its own id). */
  of: string;
  kind: string;
  vector: Float32Array;
  dhash: string;
}

let manifest: ModelManifest;
let bands: ScoreBands;
let embedder: Embedder;
let photos: CorpusPicture[];
const items: Item[] = [];

beforeAll(async () => {
  const real = await realModel();
  manifest = real.manifest;
  bands = manifest.scores!;
  const decoder = new SharpImageDecoder({ maxPixels: 100_000_000, maxFileBytes: 1e9 });
  embedder = new Embedder(
    manifest,
    decoder,
    await createOnnxNodeBackend(real.path, manifest, { threads: 2 }),
    8
  );
  const corpus = photoCorpus();
  photos = corpus.photos;
  const inputs: { of: string; kind: string; input: string | Buffer }[] = [
    ...[...corpus.photos, ...corpus.distractors].map((p) => ({
      of: p.id,
      kind: 'original',
      input: p.path
    })),
    ...(await editedQueries(corpus.photos, QUALITY_SEED)).map((q) => ({
      of: q.of,
      kind: q.kind,
      input: q.bytes
    }))
  ];
  for (const p of corpus.photos) {
    const upright = sharp(p.path).rotate().flatten({ background: '#ffffff' });
    const small = upright.clone().resize({ width: 640, height: 640, fit: 'inside' });
    inputs.push(
      {
        of: p.id,
        kind: 're-encoded',
        input: await upright.clone().jpeg({ quality: 75 }).toBuffer()
      },
      { of: p.id, kind: 'resized', input: await small.jpeg({ quality: 85 }).toBuffer() }
    );
  }
  const { width, height } = manifest.input;
  for (let i = 0; i < inputs.length; i += 8) {
    const batch = inputs.slice(i, i + 8);
    const pixels = await Promise.all(
      batch.map(async (b) => (await decoder.decode(b.input, manifest)).pixels)
    );
    const vectors = await embedder.embedPixels(pixels);
    batch.forEach((b, j) =>
      items.push({
        of: b.of,
        kind: b.kind,
        vector: vectors[j]!,
        dhash: differenceHash(pixels[j]!, width, height)
      })
    );
  }
}, 600_000);

afterAll(async () => {
  await embedder?.close();
});

const original = (of: string) => items.find((i) => i.of === of && i.kind === 'original')!;
const copiesOf = (...kinds: string[]) => items.filter((i) => kinds.includes(i.kind));
const share = (xs: boolean[]) => xs.filter(Boolean).length / xs.length;
const EDITS = EDIT_KINDS;

describe('EfficientNet-Lite0 score bands, measured on the photo corpus', () => {
  it('"Same picture": no two different photographs reach it, every plain copy does', () => {
    const isPhoto = new Set(photos.map((p) => p.id));
    let highest = -1;
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const a = items[i]!;
        const b = items[j]!;
        // Two distractors are left out: mostly transparent illustrations flatten to the same
        // white picture, so they are copies of one another as far as any model can tell.
        if (a.of === b.of || (!isPhoto.has(a.of) && !isPhoto.has(b.of))) continue;
        highest = Math.max(highest, dot(a.vector, b.vector));
      }
    }
    const plain = copiesOf('re-encoded', 'resized').map((c) =>
      dot(c.vector, original(c.of).vector)
    );
    const report = `highest unrelated ${highest.toFixed(3)}, lowest plain copy ${Math.min(...plain).toFixed(3)}`;
    console.info(`score bands: ${report}`);
    expect(highest, report).toBeLessThan(bands.strong);
    expect(Math.min(...plain), report).toBeGreaterThanOrEqual(bands.strong);
  });

  it('"Similar": nearly every edited copy reaches it, few photos of the same kind of scene do', () => {
    const edited = copiesOf(...EDITS).map(
      (c) => dot(c.vector, original(c.of).vector) >= bands.similar
    );
    const labelled = photos.filter((p) => p.category);
    const sameKind: boolean[] = [];
    for (let i = 0; i < labelled.length; i++) {
      for (let j = i + 1; j < labelled.length; j++) {
        if (labelled[i]!.category !== labelled[j]!.category) continue;
        const a = original(labelled[i]!.id);
        const b = original(labelled[j]!.id);
        sameKind.push(dot(a.vector, b.vector) >= bands.similar);
      }
    }
    const report = `edited copies ≥ similar ${share(edited).toFixed(3)}, same-category pairs ${share(sameKind).toFixed(3)}`;
    console.info(`score bands: ${report}`);
    expect(share(edited), report).toBeGreaterThanOrEqual(0.95);
    expect(share(sameKind), report).toBeLessThanOrEqual(0.05);
  });

  it('the weaker-matches gap keeps copies together and the best unrelated photo below it', () => {
    const spread: number[] = [];
    const unrelatedWithin: boolean[] = [];
    const originals = items.filter((i) => i.kind === 'original');
    for (const query of copiesOf(...EDITS)) {
      const family = [
        original(query.of),
        ...items.filter((i) => i.of === query.of && ['re-encoded', 'resized'].includes(i.kind))
      ];
      const scores = family.map((f) => dot(query.vector, f.vector));
      const top = Math.max(...scores);
      spread.push(top - Math.min(...scores));
      const unrelated = Math.max(
        ...originals.filter((o) => o.of !== query.of).map((o) => dot(query.vector, o.vector))
      );
      unrelatedWithin.push(unrelated >= top - bands.gap);
    }
    spread.sort((a, b) => a - b);
    const p95 = spread[Math.floor(0.95 * (spread.length - 1))]!;
    const report = `copies' spread p95 ${p95.toFixed(3)}, best unrelated within the gap for ${share(unrelatedWithin).toFixed(3)}`;
    console.info(`score bands: ${report}`);
    expect(p95, report).toBeLessThanOrEqual(bands.gap);
    expect(share(unrelatedWithin), report).toBeLessThanOrEqual(0.05);
  });

  it(`"same-picture" duplicates: plain copies within ${SAME_PICTURE_HAMMING} hash bits, crops beyond`, () => {
    const bits = (kind: string) =>
      copiesOf(kind).map((c) => hammingDistance(c.dhash, original(c.of).dhash));
    const plain = [
      ...bits('re-encoded'),
      ...bits('resized'),
      ...bits('jpeg-q30'),
      ...bits('colour-jitter')
    ];
    const crops = bits('crop');
    const report = `plain copies at most ${Math.max(...plain)} bits, crops at least ${Math.min(...crops)}`;
    console.info(`score bands: ${report}`);
    expect(Math.max(...plain), report).toBeLessThanOrEqual(SAME_PICTURE_HAMMING);
    expect(Math.min(...crops), report).toBeGreaterThan(SAME_PICTURE_HAMMING);
  });
});
