// Moves an ONNX model's large initializers into an external-data file, by rewriting the protobuf (field numbers
// of onnx.proto): what `onnx.save_model(..., save_as_external_data=True)` does, without a protobuf library. Used
// to make bundles whose graphs exceed protobuf's 2 GiB, and by the tests of the external-data checks.

interface RawField {
  readonly number: number;
  readonly wire: number;
  /** Where the field starts (its tag) and where its payload starts and ends. */
  readonly tagStart: number;
  readonly start: number;
  readonly end: number;
}

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
  const minBytes = options.minBytes ?? 1024;
  const align = options.align ?? 4096;
  const blobs: Uint8Array[] = [];
  const moved: string[] = [];
  let dataLength = 0;
  const parts: Uint8Array[] = [];
  for (const f of rawFields(bytes, 0, bytes.length)) {
    if (f.number !== MODEL_GRAPH || f.wire !== 2) {
      parts.push(bytes.subarray(f.tagStart, f.end));
      continue;
    }
    const graphParts: Uint8Array[] = [];
    for (const g of rawFields(bytes, f.start, f.end)) {
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
      for (const t of rawFields(bytes, g.start, g.end)) if (t.number !== TENSOR_RAW_DATA) tensorParts.push(bytes.subarray(t.tagStart, t.end));
      const entry = (key: string, value: string) => lenField(TENSOR_EXTERNAL_DATA, concat([strField(1, key), strField(2, value)]));
      tensorParts.push(entry('location', location), entry('offset', String(offset)), entry('length', String(raw.end - raw.start)));
      tensorParts.push(new Uint8Array([...varint(TENSOR_DATA_LOCATION * 8), 1]));
      graphParts.push(lenField(GRAPH_INITIALIZER, concat(tensorParts)));
    }
    parts.push(lenField(MODEL_GRAPH, concat(graphParts)));
  }
  return { model: concat(parts), data: concat(blobs), moved };
}

/** The raw_data payload bounds and name of a TensorProto field, or undefined when it keeps no raw_data. */
function rawData(bytes: Uint8Array, f: RawField): { start: number; end: number; name: string } | undefined {
  let name = '';
  let raw: RawField | undefined;
  for (const t of rawFields(bytes, f.start, f.end)) {
    if (t.number === 8 && t.wire === 2) name = String.fromCharCode(...bytes.subarray(t.start, Math.min(t.end, t.start + 1024)));
    else if (t.number === TENSOR_RAW_DATA && t.wire === 2) raw = t;
  }
  return raw ? { start: raw.start, end: raw.end, name } : undefined;
}

function* rawFields(bytes: Uint8Array, start: number, end: number): Generator<RawField> {
  let at = start;
  while (at < end) {
    const tagStart = at;
    const [tag, afterTag] = readVarint(bytes, at);
    at = afterTag;
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) {
      at = readVarint(bytes, at)[1];
      yield { number, wire, tagStart, start: afterTag, end: at };
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      yield { number, wire, tagStart, start: afterTag, end: at };
    } else if (wire === 2) {
      const [length, next] = readVarint(bytes, at);
      at = next + length;
      if (at > end) throw new RangeError('externalizeInitializers: the model bytes are truncated');
      yield { number, wire, tagStart, start: next, end: at };
    } else throw new RangeError(`externalizeInitializers: not an ONNX model (protobuf wire type ${wire})`);
  }
}

function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (at >= bytes.length) throw new RangeError('externalizeInitializers: the model bytes are truncated');
    const b = bytes[at++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, at];
    scale *= 128;
  }
  throw new RangeError('externalizeInitializers: not an ONNX model (bad varint)');
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const lenField = (field: number, body: Uint8Array): Uint8Array => concat([new Uint8Array([...varint(field * 8 + 2), ...varint(body.length)]), body]);
// Keys, plain file names and decimal numbers: ASCII (this package has neither DOM nor Node types for TextEncoder).
const strField = (field: number, s: string): Uint8Array =>
  lenField(
    field,
    Uint8Array.from(s, (c) => c.charCodeAt(0) & 0x7f),
  );
