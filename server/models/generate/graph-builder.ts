import {
  ATTR,
  FLOAT,
  encodeModel,
  type Attribute,
  type NodeSpec,
  type TensorSpec
} from './onnx-proto';
import { SeededRandom } from './seeded-random';

/** Builds an ONNX graph node by node, with deterministic random weights. */
export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers: TensorSpec[] = [];
  private counter = 0;
  parameterCount = 0;
  /** Multiply-accumulates of one image, counted for convolutions (what dominates the cost). */
  macs = 0;

  constructor(readonly random: SeededRandom) {}

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
    const id = this.counter;
    const fanIn = inChannels * kernel * kernel;
    const weights = this.random.uniformArray(outChannels * fanIn, gain * Math.sqrt(6 / fanIn));
    const bias = this.random.uniformArray(outChannels, 0.01);
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

  /** Serialises the graph with one float32 image input and one float32 output. */
  build(opts: {
    name: string;
    input: { name: string; dims: (number | string)[] };
    output: { name: string; dims: (number | string)[] };
    metadata: Record<string, string>;
  }): Uint8Array {
    const valueInfo = (name: string, dims: (number | string)[]) => ({
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
    return encodeModel({
      irVersion: 8,
      producerName: 'lookalike',
      producerVersion: '1',
      docString: 'Generated with seeded random weights: its embeddings carry no meaning.',
      opsetImport: [{ domain: '', version: 17 }],
      metadataProps: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: opts.name,
        node: this.nodes,
        initializer: this.initializers,
        input: [valueInfo(opts.input.name, opts.input.dims)],
        output: [valueInfo(opts.output.name, opts.output.dims)]
      }
    });
  }
}
