import { ATTR } from './onnx-proto';
import { GraphBuilder } from './graph-builder';
import { SeededRandom } from './seeded-random';

export interface GeneratedGraph {
  bytes: Uint8Array;
  parameters: number;
  macs: number;
}

/**
 * ResNet-50 v1.5 (torchvision / microsoft/resnet-50 layout: the stride sits on the 3×3 conv of each
 * bottleneck) without the classifier, batch norm folded into the convolutions, ending in global
 * average pooling to `[N, 2048, 1, 1]` — the same graph, parameter count and FLOPs as the real
 * embedding model, with seeded random weights.
 */
export function generateResnet50(opts: {
  seed: number;
  inputName: string;
  outputName: string;
  inputSize: number;
}): GeneratedGraph {
  const g = new GraphBuilder(new SeededRandom(opts.seed));
  let size = opts.inputSize / 2;
  let x = g.relu(g.conv(opts.inputName, 3, 64, 7, 2, size));
  size /= 2;
  x = g.node(
    'MaxPool',
    [x],
    [
      { name: 'kernel_shape', type: ATTR.INTS, ints: [3, 3] },
      { name: 'strides', type: ATTR.INTS, ints: [2, 2] },
      { name: 'pads', type: ATTR.INTS, ints: [1, 1, 1, 1] }
    ]
  );

  const stages = [
    { blocks: 3, width: 64, stride: 1 },
    { blocks: 4, width: 128, stride: 2 },
    { blocks: 6, width: 256, stride: 2 },
    { blocks: 3, width: 512, stride: 2 }
  ];
  let channels = 64;
  for (const stage of stages) {
    const out = stage.width * 4;
    for (let b = 0; b < stage.blocks; b++) {
      const stride = b === 0 ? stage.stride : 1;
      const inSize = size;
      size = inSize / stride;
      const shortcut = b === 0 ? g.conv(x, channels, out, 1, stride, size) : x;
      let y = g.relu(g.conv(x, channels, stage.width, 1, 1, inSize));
      y = g.relu(g.conv(y, stage.width, stage.width, 3, stride, size));
      y = g.conv(y, stage.width, out, 1, 1, size, 0.2);
      x = g.relu(g.node('Add', [y, shortcut]));
      channels = out;
    }
  }
  g.node('GlobalAveragePool', [x], [], opts.outputName);

  const bytes = g.build({
    name: 'synthetic-resnet50',
    input: { name: opts.inputName, dims: ['batch', 3, opts.inputSize, opts.inputSize] },
    output: { name: opts.outputName, dims: ['batch', channels, 1, 1] },
    metadata: { 'lookalike.synthetic': 'true', 'lookalike.seed': String(opts.seed) }
  });
  return { bytes, parameters: g.parameterCount, macs: g.macs };
}
