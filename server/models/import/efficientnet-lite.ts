import { GraphBuilder } from '../generate/graph-builder';
import { ATTR, type ModelSpec } from '../generate/onnx-proto';
import type { StateDict, TorchTensor } from './torch-state-dict';

/**
 * EfficientNet-Lite0 as an ONNX graph, from a state dict in the layout of lukemelas'
 * EfficientNet-PyTorch (`_conv_stem`, `_bn0`, `_blocks.N…`, `_conv_head`, `_bn1`, `_fc`), which is
 * how Google's TF checkpoints were converted. Lite drops squeeze-excitation and uses ReLU6; the
 * convolutions pad like TensorFlow's "SAME" (extra pixel at the bottom/right for stride 2).
 * Batch norm is folded into the convolutions.
 */

/** TensorFlow's batch-norm epsilon, which the converted checkpoints keep. */
const BN_EPSILON = 1e-3;

/** EfficientNet-B0's stages (Lite0 has the same; width and depth multipliers are 1). */
const LITE0_STAGES = [
  { repeats: 1, kernel: 3, stride: 1, expand: 1, out: 16 },
  { repeats: 2, kernel: 3, stride: 2, expand: 6, out: 24 },
  { repeats: 2, kernel: 5, stride: 2, expand: 6, out: 40 },
  { repeats: 3, kernel: 3, stride: 2, expand: 6, out: 80 },
  { repeats: 3, kernel: 5, stride: 1, expand: 6, out: 112 },
  { repeats: 4, kernel: 5, stride: 2, expand: 6, out: 192 },
  { repeats: 1, kernel: 3, stride: 1, expand: 6, out: 320 }
] as const;
const STEM_CHANNELS = 32;
const HEAD_CHANNELS = 1280;
const CLASSES = 1000;

export interface EfficientNetLiteOptions {
  inputName: string;
  /** The 1280-d average-pooled features, `[batch, 1280, 1, 1]`. */
  outputName: string;
  /** Square input size; the asymmetric "SAME" pads are computed for it, so it is fixed. */
  inputSize: number;
  /** Keep the 1000-class ImageNet classifier as a second output `[batch, 1000]` of this name. */
  classifierOutputName?: string;
  metadata?: Record<string, string>;
}

export interface EfficientNetLiteGraph {
  spec: ModelSpec;
  /** Parameters in the graph (batch norm folded). */
  parameters: number;
  macs: number;
}

/** Reads state-dict entries, remembering which were used so leftovers can be reported. */
class Weights {
  private readonly used = new Set<string>();
  constructor(private readonly dict: StateDict) {}

  get(name: string, shape: number[]): Float32Array {
    const tensor: TorchTensor | undefined = this.dict.get(name);
    if (!tensor) throw new Error(`The checkpoint has no ${name}: not an EfficientNet-Lite0?`);
    if (!(tensor.data instanceof Float32Array)) throw new Error(`${name} is not floating point`);
    if (tensor.shape.join('×') !== shape.join('×')) {
      throw new Error(
        `${name} has shape ${tensor.shape.join('×')}, EfficientNet-Lite0 needs ${shape.join('×')}`
      );
    }
    this.used.add(name);
    return tensor.data;
  }

  has(name: string): boolean {
    return this.dict.has(name);
  }

  /** Fails on weights the graph did not use (another architecture), ignoring BN step counters. */
  checkAllUsed(ignore: (name: string) => boolean): void {
    const left = [...this.dict.keys()].filter(
      (k) => !this.used.has(k) && !k.endsWith('.num_batches_tracked') && !ignore(k)
    );
    if (left.length > 0) {
      throw new Error(
        `The checkpoint has weights EfficientNet-Lite0 does not use (${left.slice(0, 5).join(', ')}…): another architecture?`
      );
    }
  }
}

/** TensorFlow "SAME" padding for a fixed input size: `[top, left, bottom, right]`. */
export function samePads(inSize: number, kernel: number, stride: number): number[] {
  const outSize = Math.ceil(inSize / stride);
  const total = Math.max((outSize - 1) * stride + kernel - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, before, total - before, total - before];
}

export function buildEfficientNetLite0(
  dict: StateDict,
  opts: EfficientNetLiteOptions
): EfficientNetLiteGraph {
  const g = new GraphBuilder();
  const w = new Weights(dict);
  const relu6Min = g.constant('relu6.min', [], new Float32Array([0]));
  const relu6Max = g.constant('relu6.max', [], new Float32Array([6]));
  let size = opts.inputSize;

  /** Convolution `prefix`_conv with the batch norm `bn` folded in, then optionally ReLU6. */
  const convBn = (
    input: string,
    conv: string,
    bn: string,
    c: { in: number; out: number; kernel: number; stride: number; depthwise?: boolean },
    relu6: boolean
  ): string => {
    const inPerGroup = c.depthwise ? 1 : c.in;
    const fanIn = inPerGroup * c.kernel * c.kernel;
    const weight = w.get(`${conv}.weight`, [c.out, inPerGroup, c.kernel, c.kernel]);
    const gamma = w.get(`${bn}.weight`, [c.out]);
    const beta = w.get(`${bn}.bias`, [c.out]);
    const mean = w.get(`${bn}.running_mean`, [c.out]);
    const variance = w.get(`${bn}.running_var`, [c.out]);
    const folded = new Float32Array(weight.length);
    const bias = new Float32Array(c.out);
    for (let o = 0; o < c.out; o++) {
      const scale = gamma[o]! / Math.sqrt(variance[o]! + BN_EPSILON);
      for (let i = 0; i < fanIn; i++) folded[o * fanIn + i] = weight[o * fanIn + i]! * scale;
      bias[o] = beta[o]! - mean[o]! * scale;
    }
    const outSize = Math.ceil(size / c.stride);
    g.macs += c.out * fanIn * outSize * outSize;
    const x = g.node(
      'Conv',
      [
        input,
        g.constant(`${conv}.weight`, [c.out, inPerGroup, c.kernel, c.kernel], folded),
        g.constant(`${conv}.bias`, [c.out], bias)
      ],
      [
        { name: 'kernel_shape', type: ATTR.INTS, ints: [c.kernel, c.kernel] },
        { name: 'strides', type: ATTR.INTS, ints: [c.stride, c.stride] },
        { name: 'pads', type: ATTR.INTS, ints: samePads(size, c.kernel, c.stride) },
        { name: 'group', type: ATTR.INT, i: c.depthwise ? c.out : 1 }
      ]
    );
    size = outSize;
    return relu6 ? g.node('Clip', [x, relu6Min, relu6Max]) : x;
  };

  let x = convBn(
    opts.inputName,
    '_conv_stem',
    '_bn0',
    { in: 3, out: STEM_CHANNELS, kernel: 3, stride: 2 },
    true
  );
  let channels = STEM_CHANNELS;
  let block = 0;
  for (const stage of LITE0_STAGES) {
    for (let r = 0; r < stage.repeats; r++, block++) {
      const p = `_blocks.${block}`;
      const stride = r === 0 ? stage.stride : 1;
      const hidden = channels * stage.expand;
      const input = x;
      if (stage.expand !== 1) {
        x = convBn(
          x,
          `${p}._expand_conv`,
          `${p}._bn0`,
          { in: channels, out: hidden, kernel: 1, stride: 1 },
          true
        );
      }
      x = convBn(
        x,
        `${p}._depthwise_conv`,
        `${p}._bn1`,
        { in: hidden, out: hidden, kernel: stage.kernel, stride, depthwise: true },
        true
      );
      x = convBn(
        x,
        `${p}._project_conv`,
        `${p}._bn2`,
        { in: hidden, out: stage.out, kernel: 1, stride: 1 },
        false
      );
      if (stride === 1 && channels === stage.out) x = g.node('Add', [x, input]);
      channels = stage.out;
    }
  }
  if (w.has(`_blocks.${block}._depthwise_conv.weight`)) {
    throw new Error(`The checkpoint has more than ${block} blocks: not EfficientNet-Lite0`);
  }
  x = convBn(
    x,
    '_conv_head',
    '_bn1',
    { in: channels, out: HEAD_CHANNELS, kernel: 1, stride: 1 },
    true
  );
  const features = g.node('GlobalAveragePool', [x], [], opts.outputName);

  const outputs = [{ name: features, dims: ['batch', HEAD_CHANNELS, 1, 1] as (number | string)[] }];
  if (opts.classifierOutputName) {
    const flat = g.node('Flatten', [features], [{ name: 'axis', type: ATTR.INT, i: 1 }]);
    const logits = g.node(
      'Gemm',
      [
        flat,
        g.constant(
          '_fc.weight',
          [CLASSES, HEAD_CHANNELS],
          w.get('_fc.weight', [CLASSES, HEAD_CHANNELS])
        ),
        g.constant('_fc.bias', [CLASSES], w.get('_fc.bias', [CLASSES]))
      ],
      [{ name: 'transB', type: ATTR.INT, i: 1 }],
      opts.classifierOutputName
    );
    outputs.push({ name: logits, dims: ['batch', CLASSES] });
  }
  w.checkAllUsed((name) => name.startsWith('_fc.'));

  const spec = g.spec({
    name: 'efficientnet-lite0',
    input: { name: opts.inputName, dims: ['batch', 3, opts.inputSize, opts.inputSize] },
    output: outputs,
    metadata: opts.metadata ?? {},
    docString:
      "EfficientNet-Lite0 (Google's ImageNet checkpoint, Apache-2.0), converted by Lookalike with batch norm folded."
  });
  // The two ReLU6 bounds are not parameters.
  return { spec, parameters: g.parameterCount - 2, macs: g.macs };
}
