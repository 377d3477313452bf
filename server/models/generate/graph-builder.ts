import {
  ATTR,
  FLOAT,
  encodeModel,
  type Attribute,
  type ModelSpec,
  type NodeSpec,
  type TensorSpec
} from './onnx-proto';
import { SeededRandom } from './seeded-random';

export interface TensorInfo {
  name: string;
  dims: (number | string)[];
}

/**
 * Builds an ONNX graph node by node: with deterministic random weights (`conv`) for the synthetic
 * models, or with given weights (`constant` + `node`) for converted real ones.
 */
export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers: TensorSpec[] = [];
  private counter = 0;
  parameterCount = 0;
  /** Multiply-accumulates of one image, counted for convolutions (what dominates the cost). */
  macs = 0;

  /** `random` is only needed for `conv`, the random-weight convolution. */
  constructor(readonly random?: SeededRandom) {}

  /** Adds a constant tensor and returns its name. */
  constant(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({
      name,
      dims,
      dataType: FLOAT,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    });
    this.parameterCount += data.length;
    return name;
  }

  node(opType: string, inputs: string[], attribute: Attribute[] = [], outputName?: string): string {
    const name = `${opType.toLowerCase()}_${this.counter++}`;
    const output = outputName ?? name;
    this.nodes.push({ input: inputs, output: [output], name, opType, attribute });
    return output;
  }

  /**
   * A convolution with batch norm already folded in (weights and bias), He-initialised so
   * activations keep their scale through ReLUs. `gain` shrinks residual branches, as the
   * "zero-init last BN" trick does, so 16 stacked blocks stay numerically tame.
   */
  conv(
    input: string,
    inChannels: number,
    outChannels: number,
    kernel: number,
    stride: number,
    outSize: number,
    gain = 1
  ): string {
    const random = this.random;
    if (!random) throw new Error('GraphBuilder.conv needs a SeededRandom');
    const id = this.counter;
    const fanIn = inChannels * kernel * kernel;
    const weights = random.uniformArray(outChannels * fanIn, gain * Math.sqrt(6 / fanIn));
    const bias = random.uniformArray(outChannels, 0.01);
    const w = this.constant(`conv${id}.weight`, [outChannels, inChannels, kernel, kernel], weights);
    const b = this.constant(`conv${id}.bias`, [outChannels], bias);
    const pad = Math.floor(kernel / 2);
    this.macs += outChannels * fanIn * outSize * outSize;
    return this.node(
      'Conv',
      [input, w, b],
      [
        { name: 'kernel_shape', type: ATTR.INTS, ints: [kernel, kernel] },
        { name: 'strides', type: ATTR.INTS, ints: [stride, stride] },
        { name: 'pads', type: ATTR.INTS, ints: [pad, pad, pad, pad] }
      ]
    );
  }

  relu(input: string): string {
    return this.node('Relu', [input]);
  }

  /**
   * The whole model as a message, ready to encode: one float32 image input and one or more float32
   * outputs.
   */
  spec(opts: {
    name: string;
    input: TensorInfo;
    output: TensorInfo | TensorInfo[];
    metadata: Record<string, string>;
    docString?: string;
  }): ModelSpec {
    const valueInfo = ({ name, dims }: TensorInfo) => ({
      name,
      type: {
        tensorType: {
          elemType: FLOAT,
          shape: {
            dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }))
          }
        }
      }
    });
    return {
      irVersion: 8,
      producerName: 'lookalike',
      producerVersion: '1',
      docString:
        opts.docString ?? 'Generated with seeded random weights: its embeddings carry no meaning.',
      opsetImport: [{ domain: '', version: 17 }],
      metadataProps: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: opts.name,
        node: this.nodes,
        initializer: this.initializers,
        input: [valueInfo(opts.input)],
        output: (Array.isArray(opts.output) ? opts.output : [opts.output]).map(valueInfo)
      }
    };
  }

  /** Serialises the graph (see `spec`). */
  build(opts: Parameters<GraphBuilder['spec']>[0]): Uint8Array {
    return encodeModel(this.spec(opts));
  }
}
