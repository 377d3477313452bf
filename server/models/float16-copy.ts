import { availableParallelism } from 'node:os';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import protobuf from 'protobufjs';
import { buildInputBatch } from '#core/preprocess';
import { cosine } from '#core/vector';
import type { ModelManifest } from '#core/model-manifest';
import { createOnnxNodeBackend } from '../embedding/onnx-node-backend';
import { UserError } from '../errors';
import { ATTR, encodeNode, FLOAT, FLOAT16, toFloat16Values } from './generate/onnx-proto';

/**
 * A float16-weight copy of an ONNX file Lookalike did not build (the downloaded ResNet-50), for
 * browsers: half the download, float32 arithmetic, nearly the same vectors.
 *
 * The file is read at the protobuf wire level, not decoded against a schema, so every field
 * Lookalike does not know about — new ONNX fields, doc strings, value_info, functions — is copied
 * byte for byte. Only large FLOAT initializers change: each is stored as FLOAT16 under a new
 * name, and a Cast back to FLOAT at the start of the graph produces the original name, so every
 * other node reads exactly what it read before (onnxruntime folds the casts away at load).
 */

/** Tensors smaller than this stay float32: biases and scalars save nothing worth a Cast node. */
export const MIN_FLOAT16_VALUES = 1024;
/**
 * Clamping and flushing may change a tensor by at most this share of its Σ|w| — what float16's
 * own rounding changes it by on average (half of the 2^-11 relative step) — or the copy is
 * refused. Counts alone would refuse real models: EfficientNet-Lite0 flushes up to 2 % of some
 * layers' weights, all below 3e-8 beside weights near 1, and its copy keeps cosine 0.99999.
 */
const MAX_LOST_SHARE = 2 ** -12;
/** Cast's `to` became an integer attribute in opset 6. */
const MIN_OPSET = 6;
/** onnx.TensorProto.DataLocation.EXTERNAL */
const EXTERNAL = 1;

export class Float16CopyError extends UserError {
  override name = 'Float16CopyError';
}

export interface Float16CopyStats {
  /** FLOAT initializers stored as FLOAT16. */
  tensors: number;
  values: number;
  overflowed: number;
  underflowed: number;
  /** FLOAT initializers kept as they were (too small, or also a graph input). */
  keptFloat32: number;
  /** Of those, the ones that are also graph inputs (exporters' keep_initializers_as_inputs). */
  keptAsInputs: number;
}

// --- Wire level ---------------------------------------------------------------------------

const LENGTH_DELIMITED = 2;

interface WireField {
  field: number;
  wireType: number;
  /** The whole field, tag included, to copy verbatim. */
  raw: Uint8Array;
  /** The payload: the bytes of a length-delimited field, else the value's own bytes. */
  value: Uint8Array;
}

/** The top-level fields of one message, in file order. */
function wireFields(bytes: Uint8Array): WireField[] {
  const reader = protobuf.Reader.create(bytes);
  const fields: WireField[] = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 0) throw new Float16CopyError('Not an ONNX model: invalid protobuf field 0');
    let valueStart = reader.pos;
    if (wireType === LENGTH_DELIMITED) {
      const length = reader.uint32();
      valueStart = reader.pos;
      reader.skip(length);
    } else {
      reader.skipType(wireType);
    }
    fields.push({
      field,
      wireType,
      raw: bytes.subarray(start, reader.pos),
      value: bytes.subarray(valueStart, reader.pos)
    });
  }
  return fields;
}

const text = (field: WireField) => new TextDecoder().decode(field.value);
const varint = (field: WireField) => protobuf.Reader.create(field.value).uint32();

/** A length-delimited field made of parts. */
function delimited(field: number, parts: Uint8Array[]): Uint8Array[] {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  return [
    protobuf.Writer.create()
      .uint32((field << 3) | LENGTH_DELIMITED)
      .uint32(length)
      .finish(),
    ...parts
  ];
}

const stringField = (field: number, value: string) =>
  protobuf.Writer.create()
    .uint32((field << 3) | LENGTH_DELIMITED)
    .string(value)
    .finish();
const varintField = (field: number, value: number) =>
  protobuf.Writer.create()
    .uint32(field << 3)
    .uint32(value)
    .finish();

// --- ONNX field numbers (onnx/onnx.proto) ----------------------------------------------------

const MODEL = { graph: 7, opsetImport: 8 } as const;
const GRAPH = {
  node: 1,
  initializer: 5,
  input: 11,
  output: 12,
  valueInfo: 13,
  sparseInitializer: 15
} as const;
const NODE = { input: 1, output: 2, name: 3, attribute: 5 } as const;
const ATTRIBUTE = { t: 5, tensors: 10 } as const;
const SPARSE = { values: 1, indices: 2 } as const;
const TENSOR = {
  dataType: 2,
  segment: 3,
  floatData: 4,
  name: 8,
  rawData: 9,
  externalData: 13,
  dataLocation: 14
} as const;
const OPSET = { domain: 1, version: 2 } as const;

interface Tensor {
  fields: WireField[];
  name: string;
  dataType: number;
  external: boolean;
  segmented: boolean;
}

function readTensor(bytes: Uint8Array): Tensor {
  const fields = wireFields(bytes);
  const last = (n: number) => fields.findLast((f) => f.field === n);
  const name = last(TENSOR.name);
  const dataType = last(TENSOR.dataType);
  const location = last(TENSOR.dataLocation);
  return {
    fields,
    name: name ? text(name) : '',
    dataType: dataType ? varint(dataType) : 0,
    external:
      (location !== undefined && varint(location) === EXTERNAL) ||
      fields.some((f) => f.field === TENSOR.externalData),
    segmented: fields.some((f) => f.field === TENSOR.segment)
  };
}

/** A FLOAT tensor's values, from raw_data or float_data (packed or not), little-endian. */
function floatValues(tensor: Tensor): Float32Array {
  const raw = tensor.fields.findLast((f) => f.field === TENSOR.rawData);
  const bytes: Uint8Array[] = raw
    ? [raw.value]
    : tensor.fields.filter((f) => f.field === TENSOR.floatData).map((f) => f.value);
  const length = bytes.reduce((sum, part) => sum + part.length, 0);
  if (length % 4 !== 0) {
    throw new Float16CopyError(`Tensor ${tensor.name} has ${length} bytes of float data`);
  }
  // A copy, so the floats are 4-byte aligned whatever their offset in the file.
  const aligned = new Uint8Array(length);
  let offset = 0;
  for (const part of bytes) {
    aligned.set(part, offset);
    offset += part.length;
  }
  return new Float32Array(aligned.buffer);
}

/** The tensor with FLOAT16 data and a new name; every other field kept as it was. */
function halfTensor(tensor: Tensor, name: string, bits: Uint16Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let wroteData = false;
  for (const f of tensor.fields) {
    if (f.field === TENSOR.dataType) out.push(varintField(TENSOR.dataType, FLOAT16));
    else if (f.field === TENSOR.name) out.push(stringField(TENSOR.name, name));
    else if (f.field === TENSOR.rawData || f.field === TENSOR.floatData) {
      if (!wroteData) out.push(...delimited(TENSOR.rawData, [new Uint8Array(bits.buffer)]));
      wroteData = true;
    } else out.push(f.raw);
  }
  return out;
}

/** Names of tensors that anywhere in the file store their values in other files. */
function externalTensors(graph: WireField[]): string[] {
  const tensors: Tensor[] = [];
  for (const f of graph) {
    if (f.field === GRAPH.initializer) tensors.push(readTensor(f.value));
    if (f.field === GRAPH.sparseInitializer) {
      for (const part of wireFields(f.value)) {
        if (part.field === SPARSE.values || part.field === SPARSE.indices)
          tensors.push(readTensor(part.value));
      }
    }
    if (f.field === GRAPH.node) {
      for (const attribute of wireFields(f.value).filter((n) => n.field === NODE.attribute)) {
        for (const a of wireFields(attribute.value)) {
          if (a.field === ATTRIBUTE.t || a.field === ATTRIBUTE.tensors)
            tensors.push(readTensor(a.value));
        }
      }
    }
  }
  return tensors.filter((t) => t.external).map((t) => t.name || '(unnamed)');
}

/** ValueInfoProto.name, the first field of a graph input, output or value_info. */
function valueInfoName(field: WireField): string | undefined {
  const name = wireFields(field.value).findLast((f) => f.field === 1);
  return name ? text(name) : undefined;
}

/** Every name a node, input, output, value_info or initializer of the graph uses. */
function namesIn(graph: WireField[]): Set<string> {
  const names = new Set<string>();
  for (const f of graph) {
    if (f.field === GRAPH.node) {
      for (const n of wireFields(f.value)) {
        if (n.field === NODE.input || n.field === NODE.output || n.field === NODE.name)
          names.add(text(n));
      }
    } else if (f.field === GRAPH.initializer) {
      names.add(readTensor(f.value).name);
    } else if (f.field === GRAPH.input || f.field === GRAPH.output || f.field === GRAPH.valueInfo) {
      const name = valueInfoName(f);
      if (name !== undefined) names.add(name);
    }
  }
  return names;
}

function graphInputNames(graph: WireField[]): Set<string> {
  return new Set(
    graph
      .filter((f) => f.field === GRAPH.input)
      .map(valueInfoName)
      .filter((name) => name !== undefined)
  );
}

function defaultOpset(model: WireField[]): number | undefined {
  for (const f of model.filter((m) => m.field === MODEL.opsetImport)) {
    const fields = wireFields(f.value);
    const domain = fields.findLast((o) => o.field === OPSET.domain);
    const version = fields.findLast((o) => o.field === OPSET.version);
    const name = domain ? text(domain) : '';
    if ((name === '' || name === 'ai.onnx') && version) return varint(version);
  }
  return undefined;
}

/**
 * The float16-weight copy of a self-contained ONNX model, as bytes, with what was converted.
 * Throws Float16CopyError when the model keeps weights in external files, when its opset predates
 * Cast's current form, or when clamping to float16's range or flushing to zero would change a
 * weight tensor more than float16's rounding does.
 */
export function float16Copy(bytes: Uint8Array): { bytes: Uint8Array; stats: Float16CopyStats } {
  const model = wireFields(bytes);
  const graphs = model.filter((f) => f.field === MODEL.graph);
  if (graphs.length !== 1 || graphs[0]!.wireType !== LENGTH_DELIMITED) {
    throw new Float16CopyError('Not an ONNX model: no graph (or more than one)');
  }
  const opset = defaultOpset(model);
  if (opset === undefined || opset < MIN_OPSET) {
    throw new Float16CopyError(
      `The model's ONNX opset is ${opset ?? 'missing'}; a float16 copy needs opset ${MIN_OPSET} or later`
    );
  }
  const graph = wireFields(graphs[0]!.value);
  const external = externalTensors(graph);
  if (external.length > 0) {
    throw new Float16CopyError(
      `The model keeps ${external.length} tensor(s) in external data files (${external.slice(0, 3).join(', ')}` +
        `${external.length > 3 ? ', …' : ''}); a float16 copy can only be made of a self-contained .onnx file`
    );
  }

  const used = namesIn(graph);
  const unique = (wanted: string) => {
    let name = wanted;
    for (let i = 1; used.has(name); i++) name = `${wanted}_${i}`;
    used.add(name);
    return name;
  };
  const graphInputs = graphInputNames(graph);
  const stats: Float16CopyStats = {
    tensors: 0,
    values: 0,
    overflowed: 0,
    underflowed: 0,
    keptFloat32: 0,
    keptAsInputs: 0
  };
  const casts: Uint8Array[] = [];
  const body: Uint8Array[] = [];
  for (const f of graph) {
    if (f.field !== GRAPH.initializer) {
      body.push(f.raw);
      continue;
    }
    const tensor = readTensor(f.value);
    if (tensor.dataType !== FLOAT) {
      body.push(f.raw);
      continue;
    }
    const values = tensor.segmented ? new Float32Array(0) : floatValues(tensor);
    // An initializer that is also a graph input can be overridden by the caller: a Cast could
    // not produce that name, so it stays as it is.
    if (values.length < MIN_FLOAT16_VALUES || graphInputs.has(tensor.name)) {
      body.push(f.raw);
      stats.keptFloat32++;
      if (graphInputs.has(tensor.name)) stats.keptAsInputs++;
      continue;
    }
    const { bits, overflowed, underflowed, magnitude, lost } = toFloat16Values(values);
    if (lost > magnitude * MAX_LOST_SHARE) {
      throw new Float16CopyError(
        `Float16 cannot hold weight ${tensor.name}: ${overflowed} of its ${values.length} values ` +
          `lie beyond ±65504 and ${underflowed} are too small and would become 0 ` +
          `(${((lost / magnitude) * 100).toPrecision(2)} % of its Σ|w|)`
      );
    }
    const name = unique(`${tensor.name}_fp16`);
    body.push(...delimited(GRAPH.initializer, halfTensor(tensor, name, bits)));
    const cast = encodeNode({
      input: [name],
      output: [tensor.name],
      name: unique(`${tensor.name}_fp16_cast`),
      opType: 'Cast',
      attribute: [{ name: 'to', type: ATTR.INT, i: FLOAT }]
    });
    casts.push(...delimited(GRAPH.node, [cast]));
    stats.tensors++;
    stats.values += values.length;
    stats.overflowed += overflowed;
    stats.underflowed += underflowed;
  }
  if (stats.tensors === 0) {
    const inputs = stats.keptAsInputs
      ? ` (${stats.keptAsInputs} are also graph inputs, which a Cast cannot produce)`
      : '';
    throw new Float16CopyError(
      `The model has no float32 weights that can be stored as float16${inputs}`
    );
  }
  // The casts go first, so nodes stay in the topological order ONNX requires.
  const newGraph = delimited(MODEL.graph, [...casts, ...body]);
  const out: Uint8Array[] = [];
  for (const f of model) {
    if (f.field === MODEL.graph) out.push(...newGraph);
    else out.push(f.raw);
  }
  return { bytes: Buffer.concat(out), stats };
}

// --- The browser copy of a downloaded model -----------------------------------------------------

/** Lowest cosine between a model's and its float16 copy's output the copy is kept with. */
export const MIN_BROWSER_COPY_COSINE = 0.9995;
/** Pictures the copy is checked on. */
const PARITY_PICTURES = 5;

/**
 * Seeded pictures for the parity check: per-channel colour waves of a random direction and
 * frequency, a bright disc, and noise — varied enough to reach most of a vision model's features.
 */
function parityPicture(width: number, height: number, seed: number): Uint8Array {
  let state = (seed * 2654435761) >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const waves = [0, 1, 2].map(() => ({
    fx: (random() - 0.5) * 0.2,
    fy: (random() - 0.5) * 0.2,
    phase: random() * 6.28,
    base: 60 + random() * 130
  }));
  const disc = { x: random() * width, y: random() * height, r: 20 + random() * 60 };
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inDisc = (x - disc.x) ** 2 + (y - disc.y) ** 2 < disc.r ** 2;
      for (let c = 0; c < 3; c++) {
        const w = waves[c]!;
        const value = inDisc
          ? 240 - 40 * c
          : w.base + 70 * Math.sin(w.fx * x + w.fy * y + w.phase) + (random() - 0.5) * 30;
        pixels[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return pixels;
}

/** Cosines between two model files' outputs on the same seeded pictures. */
export async function outputCosines(
  modelPath: string,
  copyPath: string,
  manifest: Pick<ModelManifest, 'input' | 'output' | 'preprocess'>,
  pictures = PARITY_PICTURES
): Promise<number[]> {
  const threads = Math.max(1, Math.min(4, availableParallelism()));
  const [a, b] = await Promise.all([
    createOnnxNodeBackend(modelPath, manifest, { threads }),
    createOnnxNodeBackend(copyPath, manifest, { threads })
  ]);
  try {
    const cosines: number[] = [];
    for (let i = 0; i < pictures; i++) {
      const { width, height } = manifest.input;
      const { data, dims } = buildInputBatch([parityPicture(width, height, i + 1)], manifest);
      const full = await a.run(data, dims);
      const half = await b.run(data, dims);
      cosines.push(cosine(full.data, half.data));
    }
    return cosines;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

export type BrowserCopyResult =
  | {
      kept: true;
      path: string;
      bytes: number;
      modelBytes: number;
      cosines: number[];
      stats: Float16CopyStats;
    }
  | { kept: false; reason: string; modelBytes: number; cosines?: number[] };

/**
 * Writes the float16 browser copy of a downloaded model beside it (temporary file, checked,
 * then renamed into place) — or, when the copy cannot be made or checked, or its outputs stray
 * from the model's (lowest cosine under MIN_BROWSER_COPY_COSINE on the seeded pictures), removes
 * any copy there was, so browsers get the float32 model, and says why in one line.
 */
export async function writeBrowserCopy(opts: {
  manifest: Pick<ModelManifest, 'id' | 'input' | 'output' | 'preprocess'>;
  modelPath: string;
  browserPath: string;
  log?: (line: string) => void;
  minCosine?: number;
}): Promise<BrowserCopyResult> {
  const { manifest, modelPath, browserPath } = opts;
  const log = opts.log ?? (() => {});
  const minCosine = opts.minCosine ?? MIN_BROWSER_COPY_COSINE;
  const model = await readFile(modelPath);
  const temporary = `${browserPath}.${process.pid}.tmp`;
  const refuse = async (reason: string, cosines?: number[]): Promise<BrowserCopyResult> => {
    await rm(temporary, { force: true });
    await rm(browserPath, { force: true });
    log(`No float16 browser copy of ${manifest.id}: ${reason}; browsers get the float32 model`);
    return { kept: false, reason, modelBytes: model.length, ...(cosines ? { cosines } : {}) };
  };
  try {
    const copy = float16Copy(model);
    await writeFile(temporary, copy.bytes);
    const cosines = await outputCosines(modelPath, temporary, manifest);
    const lowest = Math.min(...cosines);
    if (!(lowest >= minCosine)) {
      return await refuse(
        `its outputs differ from the float32 model's (lowest cosine ${lowest.toFixed(6)} < ${minCosine})`,
        cosines
      );
    }
    await rename(temporary, browserPath);
    const bytes = (await stat(browserPath)).size;
    log(
      `Saved ${browserPath} (${bytes} bytes, float16 weights for browsers; ` +
        `lowest cosine to float32 ${lowest.toFixed(6)} on ${cosines.length} pictures)`
    );
    return {
      kept: true,
      path: browserPath,
      bytes,
      modelBytes: model.length,
      cosines,
      stats: copy.stats
    };
  } catch (error) {
    // The model itself is fine (it was verified); whatever stops the copy only costs browsers
    // the smaller download, so it is reported, not thrown.
    return refuse((error as Error).message);
  }
}
