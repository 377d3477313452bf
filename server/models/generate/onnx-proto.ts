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
  string name = 8;
  bytes raw_data = 9;
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
  rawData: Uint8Array;
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

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of a number, rounded to nearest even (as numpy's astype(float16)). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  const mantissa = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  if (exponent >= 0x1f) return sign | 0x7c00;
  const round = (bits: number, shift: number) => {
    const kept = bits >>> shift;
    const rest = bits & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return rest > halfway || (rest === halfway && kept & 1) ? kept + 1 : kept;
  };
  if (exponent <= 0) {
    // Subnormal half: the implicit leading 1 becomes explicit and shifts out with the exponent.
    return exponent < -10 ? sign : sign | round(mantissa | 0x800000, 14 - exponent);
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | round((exponent << 23) | mantissa, 13);
}

/**
 * The same model with every float weight tensor stored as float16 and cast back to float32 when
 * the graph starts, so the file is half the size while all arithmetic stays float32 (the browser
 * gets the small file and still matches the server closely). Scalars are left as they are.
 */
export function withFloat16Weights(model: ModelSpec): ModelSpec {
  const casts: NodeSpec[] = [];
  const initializer = model.graph.initializer.map((tensor): TensorSpec => {
    if (tensor.dataType !== FLOAT || tensor.dims.length === 0) return tensor;
    const values = new Float32Array(
      tensor.rawData.buffer.slice(
        tensor.rawData.byteOffset,
        tensor.rawData.byteOffset + tensor.rawData.byteLength
      )
    );
    const half = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) half[i] = toFloat16Bits(values[i]!);
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
