import { describe, expect, it } from 'vitest';
import { cosine, dot, l2Normalize, norm, poolOutput } from '#core/vector';

describe('dot, norm, cosine', () => {
  it('dot is the sum of products', () => {
    // 1·4 + 2·5 + 3·6 = 32
    expect(dot([1, 2, 3], [4, 5, 6])).toBe(32);
    expect(dot([1, -1], [-1, 1])).toBe(-2);
    expect(dot([], [])).toBe(0);
    expect(dot(new Float32Array([0.5, 2]), new Float64Array([4, 0.25]))).toBe(2.5);
  });

  it('dot refuses vectors of different lengths', () => {
    expect(() => dot([1, 2, 3], [1, 2])).toThrow(/3 vs 2/);
  });

  it('norm is the Euclidean length', () => {
    expect(norm([3, 4])).toBe(5);
    expect(norm([1, 2, 2])).toBe(3);
    expect(norm([0, 0, 0])).toBe(0);
    expect(norm([-5, 12])).toBe(13);
  });

  it('cosine of parallel, orthogonal, opposite and 45° vectors', () => {
    expect(cosine([1, 2], [2, 4])).toBeCloseTo(1, 12);
    expect(cosine([1, 0], [0, 3])).toBe(0);
    expect(cosine([1, 0], [-2, 0])).toBeCloseTo(-1, 12);
    expect(cosine([1, 1], [5, 0])).toBeCloseTo(Math.SQRT1_2, 12);
    // (1·3 + 2·4) / (√5 · 5) = 11 / (5√5)
    expect(cosine([1, 2], [3, 4])).toBeCloseTo(11 / (5 * Math.sqrt(5)), 12);
  });

  it('cosine does not depend on the vectors’ lengths', () => {
    const a = [0.3, -1.2, 2.5, 0.7];
    const b = [1.1, 0.4, -0.6, 2.2];
    expect(
      cosine(
        a.map((v) => v * 1000),
        b
      )
    ).toBeCloseTo(cosine(a, b), 12);
  });

  it('cosine with a zero vector is 0, not NaN', () => {
    expect(cosine([0, 0], [1, 2])).toBe(0);
    expect(cosine([1, 2], [0, 0])).toBe(0);
  });
});

describe('l2Normalize', () => {
  it('scales to unit length, keeping the direction', () => {
    const v = l2Normalize([3, 4]);
    expect(v).toBeInstanceOf(Float32Array);
    expect(v[0]).toBeCloseTo(0.6, 6);
    expect(v[1]).toBeCloseTo(0.8, 6);
    expect(norm(v)).toBeCloseTo(1, 6);
  });

  it('gives unit norm for arbitrary vectors, and the inner product equals the cosine', () => {
    const a = Float32Array.from({ length: 2048 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
    const b = Float32Array.from({ length: 2048 }, (_, i) => Math.cos(i * 0.11) - 0.2);
    const na = l2Normalize(a);
    const nb = l2Normalize(b);
    expect(norm(na)).toBeCloseTo(1, 5);
    expect(norm(nb)).toBeCloseTo(1, 5);
    expect(dot(na, nb)).toBeCloseTo(cosine(a, b), 5);
  });

  it('returns a copy and leaves the input alone', () => {
    const input = new Float32Array([0, 2, 0]);
    const out = l2Normalize(input);
    expect(Array.from(input)).toEqual([0, 2, 0]);
    expect(Array.from(out)).toEqual([0, 1, 0]);
    expect(out).not.toBe(input);
  });

  it('leaves a zero vector zero (no NaN)', () => {
    const out = l2Normalize([0, 0, 0, 0]);
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
    expect(out.some((x) => Number.isNaN(x))).toBe(false);
    expect(l2Normalize([]).length).toBe(0);
  });

  it('gives zeros rather than NaN for a non-finite vector', () => {
    for (const bad of [
      [Number.NaN, 1],
      [Number.POSITIVE_INFINITY, 1]
    ]) {
      const out = l2Normalize(bad);
      expect(out.length).toBe(2);
      expect(out.every((x) => Number.isFinite(x))).toBe(true);
    }
  });
});

describe('poolOutput', () => {
  // [2, 3, 2, 2]: two images, three channels, 2×2 spatial.
  const dims = [2, 3, 2, 2];
  // prettier-ignore
  const data = new Float32Array([
    // image 0
    1, 2, 3, 4, //       avg 2.5, max 4
    -1, -2, -3, -4, //   avg −2.5, max −1 (all negative: max must not start at 0)
    0, 10, 0, -2, //     avg 2, max 10
    // image 1
    5, 5, 5, 5, //       avg 5, max 5
    -8, 0, 4, 8, //      avg 1, max 8
    7, -7, 1, 3 //       avg 1, max 7
  ]);

  it('avg averages each channel over its spatial positions', () => {
    const [a, b, ...rest] = poolOutput(data, dims, 'avg');
    expect(rest).toEqual([]);
    expect(Array.from(a!)).toEqual([2.5, -2.5, 2]);
    expect(Array.from(b!)).toEqual([5, 1, 1]);
  });

  it('max takes each channel’s largest value', () => {
    const [a, b, ...rest] = poolOutput(data, dims, 'max');
    expect(rest).toEqual([]);
    expect(Array.from(a!)).toEqual([4, -1, 10]);
    expect(Array.from(b!)).toEqual([5, 8, 7]);
  });

  it('works on plain arrays and on a 1-D spatial axis', () => {
    // [1, 2, 3]: one image, two channels, three positions.
    expect(Array.from(poolOutput([1, 2, 6, -3, 0, 9], [1, 2, 3], 'avg')[0]!)).toEqual([3, 2]);
    expect(Array.from(poolOutput([1, 2, 6, -3, 0, 9], [1, 2, 3], 'max')[0]!)).toEqual([6, 9]);
  });

  it("'none' passes [N, C] through, one vector per image", () => {
    const vectors = poolOutput([1, 2, 3, 4, 5, 6], [2, 3], 'none');
    expect(vectors.map((v) => Array.from(v))).toEqual([
      [1, 2, 3],
      [4, 5, 6]
    ]);
  });

  it("'none' passes [N, C, 1, 1] through (ResNet's pooled output)", () => {
    const vectors = poolOutput([1, 2, 3, 4, 5, 6], [3, 2, 1, 1], 'none');
    expect(vectors.map((v) => Array.from(v))).toEqual([
      [1, 2],
      [3, 4],
      [5, 6]
    ]);
  });

  it('avg and max also pass 1×1 spatial outputs through unchanged', () => {
    const flat = [0.5, -1, 2, 7];
    for (const pooling of ['avg', 'max'] as const) {
      const vectors = poolOutput(flat, [2, 2, 1, 1], pooling);
      expect(vectors.map((v) => Array.from(v))).toEqual([
        [0.5, -1],
        [2, 7]
      ]);
    }
  });

  it("'none' with spatial positions is an error", () => {
    expect(() => poolOutput(data, dims, 'none')).toThrow(/no pooling/);
    expect(() => poolOutput(new Float32Array(6), [1, 3, 2, 1], 'none')).toThrow(/spatial/);
  });

  it('a data length that does not match the dims is an error', () => {
    expect(() => poolOutput(data.subarray(1), dims, 'avg')).toThrow(/23 values.*need 24/);
    expect(() => poolOutput([1, 2, 3, 4, 5], [2, 3], 'none')).toThrow(/5 values.*need 6/);
    expect(() => poolOutput([1, 2, 3, 4, 5, 6, 7], [2, 3], 'max')).toThrow(/7 values.*need 6/);
  });
});
