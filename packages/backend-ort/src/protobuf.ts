// The protobuf wire format, as far as this package reads and writes ONNX models without a protobuf library:
// onnx-writer.ts builds the sampler graph, onnx-external.ts rewrites a model's initializers, graph-inspect.ts
// walks a bundle graph before onnxruntime sees it. Field numbers stay with each user (they are onnx.proto's).

/** One field of a message: tag, wire type, varint value (wire type 0) and byte bounds. */
export interface ProtoField {
  readonly number: number;
  readonly wire: number;
  /** The varint's value for wire type 0 (exact below 2^53), else 0. */
  readonly value: number;
  /** Where the field starts (its tag). */
  readonly tagStart: number;
  /** The payload's bounds: the bytes of a length-delimited field (wire type 2), the value's bytes otherwise. */
  readonly start: number;
  readonly end: number;
}

/**
 * The fields of the message in bytes[start, end). Throws an Error whose message says what is wrong ("the file
 * is truncated", "the file is not an ONNX model (...)"); callers add which file or function it was.
 */
export function* protoFields(bytes: Uint8Array, start: number, end: number): Generator<ProtoField> {
  let at = start;
  while (at < end) {
    const tagStart = at;
    const [tag, afterTag] = readVarint(bytes, at, end);
    at = afterTag;
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    if (number === 0) throw new Error('the file is not an ONNX model (field number 0)');
    if (wire === 0) {
      const [value, next] = readVarint(bytes, at, end);
      at = next;
      yield { number, wire, value, tagStart, start: afterTag, end: at };
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      if (at > end) throw new Error('the file is truncated');
      yield { number, wire, value: 0, tagStart, start: afterTag, end: at };
    } else if (wire === 2) {
      const [length, next] = readVarint(bytes, at, end);
      if (next + length > end) throw new Error('the file is truncated or not an ONNX model');
      at = next + length;
      yield { number, wire, value: 0, tagStart, start: next, end: at };
    } else {
      throw new Error(`the file is not an ONNX model (protobuf wire type ${wire})`);
    }
  }
}

/** A varint at `at` (before `end`) as a JS number (exact below 2^53; larger values only need to be skipped) and the offset after it. */
export function readVarint(bytes: Uint8Array, at: number, end: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (at >= end) throw new Error('the file is truncated');
    const b = bytes[at++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, at];
    scale *= 128;
  }
  throw new Error('the file is not an ONNX model (bad varint)');
}

/** A varint's bytes: unsigned, or negative as protobuf encodes int64 (two's complement, 10 bytes). */
export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A varint field (wire type 0). */
export const intField = (field: number, value: number | bigint): Uint8Array => new Uint8Array([...varint(field * 8), ...varint(value)]);
/** A length-delimited field (wire type 2) holding `body`. */
export const lenField = (field: number, body: Uint8Array): Uint8Array => concat([new Uint8Array([...varint(field * 8 + 2), ...varint(body.length)]), body]);
/** A string field, UTF-8. */
export const strField = (field: number, s: string): Uint8Array => lenField(field, new TextEncoder().encode(s));
/** A message field made of `parts`. */
export const msgField = (field: number, ...parts: Uint8Array[]): Uint8Array => lenField(field, concat(parts));
/** A float field (wire type 5, little-endian float32). */
export const floatField = (field: number, value: number): Uint8Array => {
  const tag = varint(field * 8 + 5);
  const b = new Uint8Array(tag.length + 4);
  b.set(tag);
  new DataView(b.buffer).setFloat32(tag.length, value, true);
  return b;
};
