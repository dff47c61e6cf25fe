/// <reference types="node" />
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { concat, floatField, intField, msgField, protoFields, readVarint, strField, varint } from '../src/protobuf.js';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

describe('the shared protobuf helper', () => {
  it('writes varints as protobuf does (int64 negatives in 10 bytes) and reads them back', () => {
    expect(varint(1)).toEqual([1]);
    expect(varint(300)).toEqual([0xac, 0x02]);
    expect(varint(-1)).toEqual([...new Array<number>(9).fill(0xff), 0x01]);
    for (const v of [0, 127, 128, 16383, 16384, 2 ** 31, 2 ** 53 - 1]) {
      const bytes = new Uint8Array(varint(v));
      expect(readVarint(bytes, 0, bytes.length)).toEqual([v, bytes.length]);
    }
  });

  it('reads back what it writes: tags, wire types, values and payload bounds', () => {
    const inner = concat([strField(1, 'név'), intField(2, 7)]);
    const bytes = concat([intField(1, 8), msgField(7, strField(1, 'név'), intField(2, 7)), floatField(20, 0.5)]);
    const fields = [...protoFields(bytes, 0, bytes.length)];
    expect(fields.map((f) => [f.number, f.wire])).toEqual([
      [1, 0],
      [7, 2],
      [20, 5],
    ]);
    expect(fields[0]!.value).toBe(8);
    expect(bytes.subarray(fields[1]!.start, fields[1]!.end)).toEqual(inner);
    const name = [...protoFields(inner, 0, inner.length)][0]!;
    expect(new TextDecoder().decode(inner.subarray(name.start, name.end))).toBe('név');
    expect(new DataView(bytes.buffer, fields[2]!.start, 4).getFloat32(0, true)).toBe(0.5);
    expect(fields.map((f) => f.tagStart)).toEqual([0, 2, fields[2]!.start - 2]);
    expect(() => [...protoFields(bytes, 0, bytes.length - 1)]).toThrow(/truncated/);
  });

  it('is the only protobuf varint reader and writer in src/ (onnx-writer, onnx-external and graph-inspect use it)', () => {
    const own = /function\*? *(varint|readVarint|concat|rawFields|fields)\b[^;]*\{|const (lenField|strField|intField|msgField) *=/;
    const defining = readdirSync(SRC)
      .filter((f) => f.endsWith('.ts') && f !== 'protobuf.ts')
      .filter((f) => {
        const text = readFileSync(`${SRC}${f}`, 'utf8');
        // graph-inspect's fields() is a filter over protoFields, not a reader of its own.
        return own.test(text.replace(/function\* fields\([^)]*\)[^{]*\{\s*for \(const f of protoFields\(/, ''));
      });
    expect(defining).toEqual([]);
  });
});
