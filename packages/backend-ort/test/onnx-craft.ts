// A minimal protobuf writer for crafting hostile ONNX models in tests (field numbers from onnx.proto).

import { concat, intField, lenField, msgField, strField } from '../src/protobuf.js';

type Part = Uint8Array;

export const int = intField;
export const msg = msgField;
export const str = strField;
export const bytesField = lenField;

/** ValueInfoProto for a uint8 tensor of rank 1 with a symbolic length. */
const u8Info = (name: string): Part[] => [str(1, name), msg(2, msg(1, int(1, 2), msg(2, msg(1, str(2, 'n')))))];

/**
 * An ONNX model whose output Y is the uint8 initializer W: with `external`, W's data is declared to live in
 * the file `external.location` (relative to wherever onnxruntime resolves it); else W holds `inline` bytes.
 */
export function identityModel(opts: { external?: { location: string; length: number }; inline?: Uint8Array; domain?: string; op?: string }): Uint8Array {
  const w: Part[] = [int(1, opts.external ? opts.external.length : (opts.inline?.length ?? 1)), int(2, 2), str(8, 'W')];
  if (opts.external) {
    w.push(msg(13, str(1, 'location'), str(2, opts.external.location)));
    w.push(msg(13, str(1, 'length'), str(2, String(opts.external.length))));
    w.push(int(14, 1));
  } else {
    w.push(bytesField(9, opts.inline ?? new Uint8Array([7])));
  }
  const node = msg(1, str(1, 'W'), str(2, 'Y'), str(4, opts.op ?? 'Identity'), ...(opts.domain ? [str(7, opts.domain)] : []));
  const graph = msg(7, node, str(2, 'g'), msg(5, ...w), msg(12, ...u8Info('Y')));
  const opsets = [msg(8, str(1, ''), int(2, 17)), ...(opts.domain ? [msg(8, str(1, opts.domain), int(2, 1))] : [])];
  return concat([int(1, 8), str(2, 'migm-test'), graph, ...opsets]);
}
