// A minimal protobuf writer for crafting hostile ONNX models in tests (field numbers from onnx.proto).

type Part = Uint8Array;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function concat(parts: Part[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const int = (field: number, value: number): Part => new Uint8Array([...varint(field * 8), ...varint(value)]);
export const msg = (field: number, ...parts: Part[]): Part => {
  const body = concat(parts);
  return concat([new Uint8Array([...varint(field * 8 + 2), ...varint(body.length)]), body]);
};
export const str = (field: number, s: string): Part => msg(field, new TextEncoder().encode(s));
export const bytesField = (field: number, b: Uint8Array): Part => msg(field, b);

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
