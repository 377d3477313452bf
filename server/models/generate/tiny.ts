import { ATTR } from './onnx-proto';
import { GraphBuilder } from './graph-builder';
import type { GeneratedGraph } from './resnet50';
import { SeededRandom } from './seeded-random';

/**
 * A few convolutions for fast tests. Its output keeps a coarse 4×4 spatial layout (average pooled)
 * instead of one global average, so different pictures get clearly different vectors even with
 * random weights.
 */
export function generateTiny(opts: {
  seed: number;
  inputName: string;
  outputName: string;
  inputSize: number;
  dimension: number;
}): GeneratedGraph {
  const g = new GraphBuilder(new SeededRandom(opts.seed));
  const grid = 4;
  const channels = opts.dimension / (grid * grid);
  if (!Number.isInteger(channels)) throw new Error('tiny: dimension must be a multiple of 16');
  const half = opts.inputSize / 2;
  let x = g.relu(g.conv(opts.inputName, 3, 16, 3, 1, opts.inputSize));
  x = g.relu(g.conv(x, 16, 16, 3, 1, opts.inputSize));
  x = g.conv(x, 16, channels, 3, 2, half);
  const window = half / grid;
  x = g.node(
    'AveragePool',
    [x],
    [
      { name: 'kernel_shape', type: ATTR.INTS, ints: [window, window] },
      { name: 'strides', type: ATTR.INTS, ints: [window, window] }
    ]
  );
  g.node('Flatten', [x], [{ name: 'axis', type: ATTR.INT, i: 1 }], opts.outputName);
  const bytes = g.build({
    name: 'tiny',
    input: { name: opts.inputName, dims: ['batch', 3, opts.inputSize, opts.inputSize] },
    output: { name: opts.outputName, dims: ['batch', opts.dimension] },
    metadata: { 'lookalike.synthetic': 'true', 'lookalike.seed': String(opts.seed) }
  });
  return { bytes, parameters: g.parameterCount, macs: g.macs };
}
