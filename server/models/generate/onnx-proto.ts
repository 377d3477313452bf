import protobuf from 'protobufjs';

/**
 * The subset of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto, Apache-2.0)
 * the generators need, with the upstream field numbers so the bytes are a valid ONNX model.
 */
const ONNX_PROTO = `
syntax = "proto3";
package onnx;

message AttributeProto {
  string name = 1;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  repeated float floats = 7;
  repeated int64 ints = 8;
  int32 type = 20;
}

message ValueInfoProto {
  string name = 1;
  TypeProto type = 2;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  repeated AttributeProto attribute = 5;
  string domain = 7;
}

message StringStringEntryProto {
  string key = 1;
  string value = 2;
}

message ModelProto {
  int64 ir_version = 1;
  string producer_name = 2;
  string producer_version = 3;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}

message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}

message TensorProto {
  repeated int64 dims = 1;
  int32 data_type = 2;
  repeated float float_data = 4;
  string name = 8;
  bytes raw_data = 9;
  string doc_string = 12;
  repeated StringStringEntryProto external_data = 13;
  int32 data_location = 14;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    int32 elem_type = 1;
    TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message OperatorSetIdProto {
  string domain = 1;
  int64 version = 2;
}
`;

const root = protobuf.parse(ONNX_PROTO).root;
const ModelProto = root.lookupType('onnx.ModelProto');
const NodeProto = root.lookupType('onnx.NodeProto');

/** onnx.TensorProto.DataType.FLOAT */
export const FLOAT = 1;
/** onnx.TensorProto.DataType.FLOAT16 */
export const FLOAT16 = 10;
/** onnx.AttributeProto.AttributeType values used here. */
export const ATTR = { FLOAT: 1, INT: 2, INTS: 7 } as const;

export type Attribute =
  | { name: string; type: typeof ATTR.INT; i: number }
  | { name: string; type: typeof ATTR.INTS; ints: number[] }
  | { name: string; type: typeof ATTR.FLOAT; f: number };

export interface NodeSpec {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  attribute: Attribute[];
}

export interface TensorSpec {
  name: string;
  dims: number[];
  dataType: number;
  /** The values, little-endian; Lookalike writes its own tensors this way. */
  rawData?: Uint8Array;
  /** FLOAT values the other way ONNX allows (other exporters use it); for tests of readers. */
  floatData?: number[];
  docString?: string;
  /** Set (with dataLocation 1) when the values live in a file beside the model. */
  externalData?: { key: string; value: string }[];
  dataLocation?: number;
}

export interface ValueInfoSpec {
  name: string;
  type: {
    tensorType: {
      elemType: number;
      shape: { dim: ({ dimValue: number } | { dimParam: string })[] };
    };
  };
}

export interface ModelSpec {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  docString: string;
  opsetImport: { domain: string; version: number }[];
  metadataProps: { key: string; value: string }[];
  graph: {
    name: string;
    node: NodeSpec[];
    initializer: TensorSpec[];
    input: ValueInfoSpec[];
    output: ValueInfoSpec[];
  };
}

export function encodeModel(model: ModelSpec): Uint8Array {
  const message = ModelProto.fromObject(model);
  return ModelProto.encode(message).finish();
}

/** One NodeProto on its own, e.g. to splice into a graph read at the wire level. */
export function encodeNode(node: NodeSpec): Uint8Array {
  return NodeProto.encode(NodeProto.fromObject(node)).finish();
}

/**
 * Reads a model back as plain objects, only the fields of the schema above (others are skipped):
 * enough to compare two models' graphs, opsets and metadata.
 */
export function decodeModel(bytes: Uint8Array): ModelSpec {
  return ModelProto.toObject(ModelProto.decode(bytes), {
    longs: Number,
    defaults: true,
    arrays: true
  }) as ModelSpec;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of a number, rounded to nearest even (as numpy's astype(float16)). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  return halfFromFloatBits(u32[0]!);
}

/** binary16 bits from binary32 bits; no closures or allocation, as it runs once per weight. */
function halfFromFloatBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const biased = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (biased === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const exponent = biased - 127 + 15;
  if (exponent >= 0x1f) return sign | 0x7c00;
  let bits: number;
  let shift: number;
  if (exponent <= 0) {
    // Subnormal half: the implicit leading 1 becomes explicit and shifts out with the exponent.
    if (exponent < -10) return sign;
    bits = mantissa | 0x800000;
    shift = 14 - exponent;
  } else {
    // A carry out of the mantissa correctly bumps the exponent (up to infinity).
    bits = (exponent << 23) | mantissa;
    shift = 13;
  }
  const kept = bits >>> shift;
  const rest = bits & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  return sign | (rest > halfway || (rest === halfway && kept & 1) ? kept + 1 : kept);
}

/** The largest finite float16, 65504. */
export const FLOAT16_MAX_BITS = 0x7bff;

export interface Float16Values {
  /** binary16 bits, one per value. */
  bits: Uint16Array;
  /** Finite values beyond float16's range, stored as ±65504 instead of infinity. */
  overflowed: number;
  /** Non-zero values so small that they became zero. */
  underflowed: number;
  /** Σ|value| over the finite values: the tensor's scale. */
  magnitude: number;
  /** Σ|value − stored| over the clamped and the flushed values: what leaving float16's range lost. */
  lost: number;
}

/**
 * The one float32 → float16 conversion every float16 copy uses: round to nearest even, and finite
 * values too large for float16 clamp to ±65504 rather than becoming infinities, which would turn
 * whole activations into NaN. The counts and sums let callers decide whether the copy can be
 * trusted: a few flushed weights of 1e-8 beside weights of 1 change nothing, a tensor of them does.
 */
export function toFloat16Values(values: Float32Array): Float16Values {
  const floatBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const bits = new Uint16Array(values.length);
  let overflowed = 0;
  let underflowed = 0;
  let magnitude = 0;
  let lost = 0;
  for (let i = 0; i < values.length; i++) {
    const x = floatBits[i]!;
    const size = Math.abs(values[i]!);
    let half = halfFromFloatBits(x);
    if ((x & 0x7f800000) !== 0x7f800000) magnitude += size;
    if ((half & 0x7fff) === 0x7c00 && (x & 0x7f800000) !== 0x7f800000) {
      half = (half & 0x8000) | FLOAT16_MAX_BITS;
      overflowed++;
      lost += size - 65504;
    } else if ((half & 0x7fff) === 0 && (x & 0x7fffffff) !== 0) {
      underflowed++;
      lost += size;
    }
    bits[i] = half;
  }
  return { bits, overflowed, underflowed, magnitude, lost };
}

/**
 * The same model with every float weight tensor stored as float16 and cast back to float32 when
 * the graph starts, so the file is half the size while all arithmetic stays float32 (the browser
 * gets the small file and still matches the server closely). Scalars are left as they are.
 */
export function withFloat16Weights(model: ModelSpec): ModelSpec {
  const casts: NodeSpec[] = [];
  const initializer = model.graph.initializer.map((tensor): TensorSpec => {
    if (tensor.dataType !== FLOAT || tensor.dims.length === 0 || !tensor.rawData) return tensor;
    const values = new Float32Array(
      tensor.rawData.buffer.slice(
        tensor.rawData.byteOffset,
        tensor.rawData.byteOffset + tensor.rawData.byteLength
      )
    );
    const half = toFloat16Values(values).bits;
    const name = `${tensor.name}.fp16`;
    casts.push({
      input: [name],
      output: [tensor.name],
      name: `cast_${casts.length}`,
      opType: 'Cast',
      attribute: [{ name: 'to', type: ATTR.INT, i: FLOAT }]
    });
    return { name, dims: tensor.dims, dataType: FLOAT16, rawData: new Uint8Array(half.buffer) };
  });
  return {
    ...model,
    graph: { ...model.graph, initializer, node: [...casts, ...model.graph.node] }
  };
}
