import { describe, expect, it } from 'vitest';
import { parseModelManifest, type ScoreBands } from '#core/model-manifest';
import { BAND_WORDS, scoreBand, weakMatchIndex } from '#core/scores';
import { getManifest } from '../../server/models/registry';

const bands: ScoreBands = { strong: 0.8, similar: 0.6, gap: 0.15, measured: 'by hand' };
const model = { scores: bands };
const list = (...scores: number[]) => scores.map((score) => ({ score }));

describe('scoreBand', () => {
  it('gives the band a score falls in, boundaries included upward', () => {
    expect([0.99, 0.8, 0.7999, 0.6, 0.5999, 0, -0.3].map((s) => scoreBand(s, model))).toEqual([
      'strong',
      'strong',
      'similar',
      'similar',
      'weak',
      'weak',
      'weak'
    ]);
  });

  it('has no word for a model without measured bands, nor for a score that is not a number', () => {
    expect(scoreBand(0.99, {})).toBeUndefined();
    expect(scoreBand(0.99, undefined)).toBeUndefined();
    expect(scoreBand(Number.NaN, model)).toBeUndefined();
  });

  it('has a label and a sentence for every band', () => {
    for (const words of Object.values(BAND_WORDS)) {
      expect(words.label).toMatch(/^[A-Z]/);
      expect(words.meaning.length).toBeGreaterThan(10);
    }
  });
});

describe('weakMatchIndex', () => {
  it('starts the weaker matches below the similar band when the best is far above it', () => {
    // best 0.7 → cut max(0.6, 0.55) = 0.6
    expect(weakMatchIndex(list(0.7, 0.65, 0.59, 0.3), model)).toBe(2);
  });

  it('starts them more than `gap` below the best when that is higher: copies stay together', () => {
    // best 0.97 → cut max(0.6, 0.82) = 0.82: a second copy at 0.9 stays, a 0.75 look-alike does not.
    expect(weakMatchIndex(list(0.97, 0.9, 0.75, 0.62), model)).toBe(2);
    expect(weakMatchIndex(list(0.97, 0.82, 0.81), model)).toBe(2);
  });

  it('is 0 when even the best is weak, undefined when nothing is weaker or there are no bands', () => {
    expect(weakMatchIndex(list(0.5, 0.4), model)).toBe(0);
    expect(weakMatchIndex(list(0.9, 0.88), model)).toBeUndefined();
    expect(weakMatchIndex([], model)).toBeUndefined();
    expect(weakMatchIndex(list(0.99, 0.1), {})).toBeUndefined();
  });
});

describe('score bands in the manifests', () => {
  it('are measured for EfficientNet-Lite0 and absent where nobody measured them', () => {
    const lite = getManifest('efficientnet-lite0').scores;
    expect(lite).toMatchObject({ strong: 0.8, similar: 0.6, gap: 0.15 });
    expect(lite!.measured).toMatch(/corpus/);
    // ResNet-50 cannot be downloaded here, so its scores were never measured: no words for it.
    expect(getManifest('resnet50').scores).toBeUndefined();
    for (const id of ['synthetic-resnet50', 'tiny']) expect(getManifest(id).scores).toBeUndefined();
  });

  it('are refused on a synthetic model and when out of order', () => {
    const synthetic = { ...getManifest('tiny'), scores: bands };
    expect(() => parseModelManifest(synthetic)).toThrow(/scores: a synthetic model/);
    const real = getManifest('efficientnet-lite0');
    expect(() => parseModelManifest({ ...real, scores: { ...bands, similar: 0.9 } })).toThrow(
      /scores: similar must be below strong/
    );
  });
});
