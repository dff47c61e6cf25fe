// A small writer of ONNX model bytes (protobuf wire format, field numbers of onnx.proto), enough to build the
// device sampler's graph at run time: the graph depends on the bundle's L and K and on the precision the device
// offers, so it is built next to the bundle rather than shipped in it, and no protobuf library is needed.
import { concat, floatField, intField, lenField, msgField, strField } from './protobuf.js';

/** ONNX tensor element types used here (TensorProto.DataType). */
export const DType = { float: 1, int32: 6, int64: 7, bool: 9, double: 11 } as const;
export type DTypeName = keyof typeof DType;

type Bytes = Uint8Array;

/** A node attribute: an int, ints, or a float (the only kinds the sampler needs). */
export type AttrValue = { readonly int: number } | { readonly ints: readonly number[] } | { readonly float: number };

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: Readonly<Record<string, AttrValue>>;
}

export interface ValueSpec {
  readonly name: string;
  readonly dtype: DTypeName;
  /** Dimensions: numbers are fixed, strings are symbolic. */
  readonly dims: readonly (number | string)[];
}

export interface InitializerSpec {
  readonly name: string;
  readonly dtype: 'float' | 'double' | 'int64';
  readonly dims: readonly number[];
  readonly values: readonly number[] | Float32Array | Float64Array;
}

export interface GraphSpec {
  readonly name: string;
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly initializers: readonly InitializerSpec[];
  readonly nodes: readonly NodeSpec[];
  /** Default opset version (domain ""). */
  readonly opset: number;
}

function attribute(name: string, value: AttrValue): Bytes {
  // AttributeProto: name 1, f 2, i 3, ints 8, type 20 (FLOAT 1, INT 2, INTS 7).
  if ('int' in value) return msgField(5, strField(1, name), intField(3, value.int), intField(20, 2));
  if ('float' in value) return msgField(5, strField(1, name), floatField(2, value.float), intField(20, 1));
  return msgField(5, strField(1, name), ...value.ints.map((v) => intField(8, v)), intField(20, 7));
}

function node(n: NodeSpec, index: number): Bytes {
  // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
  return msgField(
    1,
    ...n.inputs.map((s) => strField(1, s)),
    ...n.outputs.map((s) => strField(2, s)),
    strField(3, `${n.op}_${index}`),
    strField(4, n.op),
    ...Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
  );
}

function valueInfo(field: number, v: ValueSpec): Bytes {
  // ValueInfoProto: name 1, type 2 -> TypeProto.tensor_type 1 -> elem_type 1, shape 2 -> dim 1 (dim_value 1, dim_param 2).
  const dims = v.dims.map((d) => msgField(1, typeof d === 'number' ? intField(1, d) : strField(2, d)));
  return msgField(field, strField(1, v.name), msgField(2, msgField(1, intField(1, DType[v.dtype]), msgField(2, ...dims))));
}

function initializer(t: InitializerSpec): Bytes {
  // TensorProto: dims 1, data_type 2, name 8, raw_data 9 (little-endian).
  const count = t.dims.reduce((a, d) => a * d, 1);
  if (t.values.length !== count) throw new Error(`initializer ${t.name}: ${t.values.length} values for dims [${t.dims.join(', ')}]`);
  const size = t.dtype === 'float' ? 4 : 8;
  const raw = new Uint8Array(count * size);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < count; i++) {
    const v = t.values[i]!;
    if (t.dtype === 'float') view.setFloat32(i * 4, v, true);
    else if (t.dtype === 'double') view.setFloat64(i * 8, v, true);
    else view.setBigInt64(i * 8, BigInt(v), true);
  }
  return msgField(5, ...t.dims.map((d) => intField(1, d)), intField(2, DType[t.dtype]), strField(8, t.name), lenField(9, raw));
}

/** Serialises a graph as an ONNX ModelProto (IR version 8). */
export function writeOnnxModel(g: GraphSpec): Uint8Array {
  // GraphProto: node 1, name 2, initializer 5, input 11, output 12.
  const graph = msgField(
    7,
    ...g.nodes.map(node),
    strField(2, g.name),
    ...g.initializers.map(initializer),
    ...g.inputs.map((v) => valueInfo(11, v)),
    ...g.outputs.map((v) => valueInfo(12, v)),
  );
  // ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8 (domain 1, version 2).
  return concat([intField(1, 8), strField(2, 'migm'), graph, msgField(8, strField(1, ''), intField(2, g.opset))]);
}
