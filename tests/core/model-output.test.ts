import { describe, expect, it } from 'vitest';
import { pickTensorName, vectorsFromOutput } from '#core/model-output';

const manifest = (pooling: 'none' | 'avg' | 'max', normalize: boolean, dimension = 2) => ({
  id: 'm',
  dimension,
  output: { pooling, normalize }
});

describe('vectorsFromOutput (one path from model output to vectors, server and browser)', () => {
  it('pools each image of a batch and normalises to unit length', () => {
    // [2 images, 2 channels, 1×2 spatial]: average then L2.
    const data = Float32Array.from([1, 3, 4, 4, 0, 2, 6, 6]);
    const [a, b] = vectorsFromOutput(data, [2, 2, 1, 2], manifest('avg', true));
    expect(Array.from(a!)).toEqual([0.4472135901451111, 0.8944271802902222]);
    expect(Array.from(b!).map((x) => Math.round(x * 1e6) / 1e6)).toEqual([0.164399, 0.986394]);
  });

  it('keeps raw values when the manifest does not normalise, and max-pools when asked', () => {
    const data = Float32Array.from([1, 3, 4, 4]);
    expect(Array.from(vectorsFromOutput(data, [1, 2, 1, 2], manifest('max', false))[0]!)).toEqual([
      3, 4
    ]);
  });

  it('refuses an output whose size is not the manifest dimension', () => {
    expect(() =>
      vectorsFromOutput(new Float32Array(3), [1, 3, 1, 1], manifest('none', true))
    ).toThrow(/3 values per image; manifest m says 2/);
  });
});

describe('pickTensorName', () => {
  it('takes the named tensor, or the only one, and refuses anything else', () => {
    expect(pickTensorName('output', ['a', 'b'], 'b')).toBe('b');
    expect(pickTensorName('input', ['only'])).toBe('only');
    expect(() => pickTensorName('output', ['a'], 'c')).toThrow(/no output "c"/);
    expect(() => pickTensorName('output', ['a', 'b'])).toThrow(/must name one/);
  });
});
