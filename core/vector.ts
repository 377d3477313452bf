/** Vector maths shared by browser and server. */

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Vector lengths differ: ${a.length} vs ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** Returns a unit-length copy; a zero vector stays zero rather than becoming NaN. */
export function l2Normalize(a: ArrayLike<number>): Float32Array {
  const n = norm(a);
  const out = new Float32Array(a.length);
  if (n === 0 || !Number.isFinite(n)) return out;
  for (let i = 0; i < a.length; i++) out[i] = a[i]! / n;
  return out;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const d = norm(a) * norm(b);
  return d === 0 ? 0 : dot(a, b) / d;
}

/**
 * Reduces a `[batch, channels, ...spatial]` model output to one `channels`-long vector per image,
 * by average or max over the spatial positions (1×1 spatial outputs pass through unchanged).
 */
export function poolOutput(
  data: ArrayLike<number>,
  dims: readonly number[],
  pooling: 'none' | 'avg' | 'max'
): Float32Array[] {
  const [batch = 0, channels = 0, ...spatialDims] = dims;
  const spatial = spatialDims.reduce((a, b) => a * b, 1);
  if (data.length !== batch * channels * spatial) {
    throw new Error(
      `Output has ${data.length} values, dims ${dims.join('×')} need ${batch * channels * spatial}`
    );
  }
  if (pooling === 'none' && spatial !== 1) {
    throw new Error(
      `Output ${dims.join('×')} has spatial positions but the manifest says no pooling`
    );
  }
  const vectors: Float32Array[] = [];
  for (let n = 0; n < batch; n++) {
    const v = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      const start = (n * channels + c) * spatial;
      let acc = pooling === 'max' ? -Infinity : 0;
      for (let s = 0; s < spatial; s++) {
        const x = data[start + s]!;
        acc = pooling === 'max' ? Math.max(acc, x) : acc + x;
      }
      v[c] = pooling === 'max' ? acc : acc / spatial;
    }
    vectors.push(v);
  }
  return vectors;
}
