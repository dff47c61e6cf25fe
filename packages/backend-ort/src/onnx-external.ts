// Moves an ONNX model's large initializers into an external-data file, by rewriting the protobuf (field numbers
// of onnx.proto): what `onnx.save_model(..., save_as_external_data=True)` does, without a protobuf library. Used
// to make bundles whose graphs exceed protobuf's 2 GiB, and by the tests of the external-data checks.
import { concat, intField, lenField, msgField, protoFields, strField, type ProtoField } from './protobuf.js';

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;

/** The result: the model without the moved bytes, and the external file's bytes. */
export interface ExternalizedModel {
  readonly model: Uint8Array;
  readonly data: Uint8Array;
  /** Names of the initializers moved, in file order. */
  readonly moved: string[];
}

/**
 * Moves the raw data of every top-level initializer of at least `minBytes` bytes into one file named
 * `location` (a plain file name, written next to the model), each at an offset aligned to `align` bytes.
 *
 * @example
 * const { model, data } = externalizeInitializers(readFileSync('base.onnx'), 'base.onnx.data');
 * writeFileSync('base.onnx', model);
 * writeFileSync('base.onnx.data', data); // list both in manifest.files and graphs.base.externalData: ['base.onnx.data']
 */
export function externalizeInitializers(bytes: Uint8Array, location: string, options: { minBytes?: number; align?: number } = {}): ExternalizedModel {
  try {
    return externalize(bytes, location, options.minBytes ?? 1024, options.align ?? 4096);
  } catch (err) {
    throw new RangeError(`externalizeInitializers: ${(err as Error).message}`);
  }
}

function externalize(bytes: Uint8Array, location: string, minBytes: number, align: number): ExternalizedModel {
  const blobs: Uint8Array[] = [];
  const moved: string[] = [];
  let dataLength = 0;
  const parts: Uint8Array[] = [];
  for (const f of protoFields(bytes, 0, bytes.length)) {
    if (f.number !== MODEL_GRAPH || f.wire !== 2) {
      parts.push(bytes.subarray(f.tagStart, f.end));
      continue;
    }
    const graphParts: Uint8Array[] = [];
    for (const g of protoFields(bytes, f.start, f.end)) {
      const raw = g.number === GRAPH_INITIALIZER && g.wire === 2 ? rawData(bytes, g) : undefined;
      if (!raw || raw.end - raw.start < minBytes) {
        graphParts.push(bytes.subarray(g.tagStart, g.end));
        continue;
      }
      const offset = Math.ceil(dataLength / align) * align;
      if (offset > dataLength) blobs.push(new Uint8Array(offset - dataLength));
      blobs.push(bytes.subarray(raw.start, raw.end));
      dataLength = offset + (raw.end - raw.start);
      moved.push(raw.name);
      const tensorParts: Uint8Array[] = [];
      for (const t of protoFields(bytes, g.start, g.end)) if (t.number !== TENSOR_RAW_DATA) tensorParts.push(bytes.subarray(t.tagStart, t.end));
      const entry = (key: string, value: string) => msgField(TENSOR_EXTERNAL_DATA, strField(1, key), strField(2, value));
      tensorParts.push(entry('location', location), entry('offset', String(offset)), entry('length', String(raw.end - raw.start)));
      tensorParts.push(intField(TENSOR_DATA_LOCATION, 1));
      graphParts.push(lenField(GRAPH_INITIALIZER, concat(tensorParts)));
    }
    parts.push(lenField(MODEL_GRAPH, concat(graphParts)));
  }
  return { model: concat(parts), data: concat(blobs), moved };
}

/** The raw_data payload bounds and name of a TensorProto field, or undefined when it keeps no raw_data. */
function rawData(bytes: Uint8Array, f: ProtoField): { start: number; end: number; name: string } | undefined {
  let name = '';
  let raw: ProtoField | undefined;
  for (const t of protoFields(bytes, f.start, f.end)) {
    if (t.number === 8 && t.wire === 2) name = String.fromCharCode(...bytes.subarray(t.start, Math.min(t.end, t.start + 1024)));
    else if (t.number === TENSOR_RAW_DATA && t.wire === 2) raw = t;
  }
  return raw ? { start: raw.start, end: raw.end, name } : undefined;
}
