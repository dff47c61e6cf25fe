import { writeOnnxModel, type InitializerSpec, type NodeSpec, type ValueSpec } from './onnx-writer.js';

/**
 * Precision of the device sampler's graph. 'float64' (CPU execution providers) repeats core's host sampler
 * operation by operation, including its exp (`expNonPositive`: +, *, floor and two tables) and its sequential
 * softmax sum (CumSum's last entry), so the candidates match bit for bit and the confidences up to the last bit
 * of onnxruntime's Log. 'float32' (WebGPU, which has no float64) uses onnxruntime's Exp in float32.
 */
export type SamplerPrecision = 'float64' | 'float32';

export interface SamplerGraphOptions {
  /** Tokens per image L. */
  readonly tokens: number;
  /** Vocabulary K (logits per position). */
  readonly vocab: number;
  /** Classifier-free guidance: read [cond; uncond] rows and combine them. */
  readonly guided: boolean;
  readonly precision: SamplerPrecision;
}

/** The graph's input and output names (the runner in device-sampler.ts feeds and reads these). */
export const SAMPLER_IO = {
  /** float32 [R, L, K]: the logits handle's buffer (R >= the rows read). */
  logits: 'logits',
  /** int32 [B, m]: flat row b * L + p of each masked position p of image b (ascending p). */
  condRows: 'cond_rows',
  /** int32 [B, m]: the unconditional rows (condRows + B * L); guided graphs only. */
  uncondRows: 'uncond_rows',
  /** T [B, m]: u0, the candidate's uniform. */
  target: 'u0',
  /** T [B, m]: the confidence noise, noiseScale * -log(-log(u1)), computed on the host exactly as core does. */
  noise: 'noise',
  /** T [1]: invTemp * (1 + w) (guided) or invTemp (plain). */
  a: 'a',
  /** T [1]: invTemp * w; guided graphs only. */
  b: 'b',
  /** int64 [1]: positions to commit per image. */
  k: 'k',
  /** int64 [B, k] out: indices into the m masked positions, by confidence (ties: lower index first). */
  pick: 'pick',
  /** int64 [B, k] out: the committed token ids, in `pick`'s order. */
  tokens: 'tokens',
  /** float [1, 1] out: 1 when some masked position's logits are not finite (NaN, +inf, or all -inf), else 0. */
  badAny: 'bad_any',
  /** int64 [1, 1] out: the first such position, as an index into [B * m] (meaningful when badAny is 1). */
  badIndex: 'bad_index',
} as const;

// Constants of core's expNonPositive (packages/core/src/sampling/exp-non-positive.ts), computed the same way so
// that the float64 graph gives the same bits. POW2_FRAC is written out there; here it is rebuilt with Math.pow
// and checked against core in the tests (a mismatch would fail the bit-for-bit parity test).
const MAX_SHIFT = 1100;
const FLOOR = -760;
const SCALE = 32 / Math.LN2;
const STEP = Math.LN2 / 32;

function pow2Neg(): Float64Array {
  const t = new Float64Array(MAX_SHIFT + 1);
  for (let i = 0, v = 1; i <= MAX_SHIFT; i++, v /= 2) t[i] = v;
  return t;
}

// 2^(j/32), correctly rounded, as core writes them.
// prettier-ignore
const POW2_FRAC = [
  1.0, 1.0218971486541166, 1.0442737824274138, 1.0671404006768237,
  1.0905077326652577, 1.1143867425958924, 1.1387886347566916, 1.1637248587775775,
  1.189207115002721, 1.215247359980469, 1.241857812073484, 1.2690509571917332,
  1.2968395546510096, 1.3252366431597413, 1.3542555469368927, 1.383909881963832,
  1.4142135623730951, 1.4451808069770467, 1.4768261459394993, 1.5091644275934228,
  1.5422108254079407, 1.5759808451078865, 1.6104903319492543, 1.645755478153965,
  1.681792830507429, 1.718619298122478, 1.7562521603732995, 1.7947090750031072,
  1.8340080864093424, 1.8741676341103, 1.9152065613971474, 1.9571441241754002,
];

/**
 * Builds the device sampler as ONNX bytes (opset 17). Per masked position: guidance and temperature in T,
 * the row maximum, exp(z - max), their running sum (CumSum, sequential like the host loop), the first index
 * whose running sum reaches u0 * sum (ArgMax over the cast comparison: ArgMax returns the first maximum),
 * log p of that candidate plus the host-computed Gumbel noise, and TopK over the masked positions of each
 * image (ONNX TopK breaks ties by lower index, as core does). Only the masked rows are gathered, so the work
 * shrinks as the image fills in. The non-finite check reads sum(z - max): NaN exactly when the host sampler's
 * sum would not be finite and positive (a NaN, a +inf, or a row of -inf).
 */
export function buildSamplerGraph(o: SamplerGraphOptions): Uint8Array {
  const { tokens: L, vocab: K, guided, precision } = o;
  const T = precision === 'float64' ? 'double' : 'float';
  const io = SAMPLER_IO;
  const nodes: NodeSpec[] = [];
  const inits: InitializerSpec[] = [];
  let n = 0;
  const op = (type: string, inputs: string[], attrs?: NodeSpec['attrs'], outputs = 1): string[] => {
    const outs = Array.from({ length: outputs }, () => `t${n++}`);
    nodes.push({ op: type, inputs, outputs: outs, ...(attrs ? { attrs } : {}) });
    return outs;
  };
  const one = (type: string, inputs: string[], attrs?: NodeSpec['attrs']): string => op(type, inputs, attrs)[0]!;
  const constant = (name: string, dtype: InitializerSpec['dtype'], dims: number[], values: readonly number[] | Float64Array): string => {
    inits.push({ name, dtype, dims, values });
    return name;
  };
  const scalarT = (name: string, v: number): string => constant(name, T, [], [v]);
  const CAST = { float: 1, int64: 7, double: 11 } as const;

  const flatShape = constant('flat_shape', 'int64', [2], [-1, K]);
  const axis2 = constant('axis2', 'int64', [1], [2]);
  const flat = one('Reshape', [io.logits, flatShape]);
  const rowsOf = (rows: string): string => {
    const g = one('Gather', [flat, rows], { axis: { int: 0 } }); // [B, m, K] float32
    return T === 'double' ? one('Cast', [g], { to: { int: CAST.double } }) : g;
  };
  // z = a * cond - b * uncond, the host's guideRow (a and b are computed on the host in float64, as there).
  const scaled = one('Mul', [rowsOf(io.condRows), io.a]);
  const z = guided ? one('Sub', [scaled, one('Mul', [rowsOf(io.uncondRows), io.b])]) : scaled;
  const max = one('ReduceMax', [z], { axes: { ints: [2] }, keepdims: { int: 1 } });
  const x = one('Sub', [z, max]); // <= 0 on a finite row

  // Non-finite rows: sum(z - max) is NaN iff the row has a NaN, a +inf (inf - inf) or only -inf (-inf + inf).
  const rowSum = one('ReduceSum', [x, axis2], { keepdims: { int: 0 } });
  // Reduced as a [1, B * m] row: onnxruntime-web's WebGPU ArgMax fails to compile its shader for a rank-1 input.
  const badFlat = one('Reshape', [one('Cast', [one('IsNaN', [rowSum])], { to: { int: CAST.float } }), constant('one_row', 'int64', [2], [1, -1])]);
  nodes.push({ op: 'ReduceMax', inputs: [badFlat], outputs: [io.badAny], attrs: { axes: { ints: [1] }, keepdims: { int: 1 } } });
  nodes.push({ op: 'ArgMax', inputs: [badFlat], outputs: [io.badIndex], attrs: { axis: { int: 1 }, keepdims: { int: 1 } } });

  let e: string;
  if (precision === 'float64') {
    // core's expNonPositive, operation by operation (same constants, same order of + and *).
    const y = one('Max', [x, scalarT('floor', FLOOR)]);
    const half = scalarT('half', 0.5);
    const unit = scalarT('one', 1);
    const nn = one('Floor', [one('Add', [one('Mul', [y, scalarT('scale', SCALE)]), half])]);
    const r = one('Sub', [y, one('Mul', [nn, scalarT('step', STEP)])]);
    let h = one('Add', [scalarT('c6', 1 / 6), one('Mul', [r, scalarT('c24', 1 / 24)])]);
    h = one('Add', [half, one('Mul', [r, h])]);
    h = one('Add', [unit, one('Mul', [r, h])]);
    const poly = one('Add', [unit, one('Mul', [r, h])]);
    // i = n: 2^(i >> 5) from i's floor division by 32, 2^((i & 31) / 32) from the remainder (exact in float64).
    const q = one('Floor', [one('Mul', [nn, scalarT('inv32', 1 / 32)])]);
    const frac = one('Sub', [nn, one('Mul', [q, scalarT('c32', 32)])]);
    // Clipped after the cast: a bad row's NaN must not index out of the tables (its result is never used).
    const index = (v: string, hi: number): string =>
      one('Clip', [one('Cast', [v], { to: { int: CAST.int64 } }), constant(`lo_${hi}`, 'int64', [], [0]), constant(`hi_${hi}`, 'int64', [], [hi])]);
    const fracV = one('Gather', [constant('pow2_frac', 'double', [32], POW2_FRAC), index(frac, 31)], { axis: { int: 0 } });
    const negV = one('Gather', [constant('pow2_neg', 'double', [MAX_SHIFT + 1], pow2Neg()), index(one('Neg', [q]), MAX_SHIFT)], { axis: { int: 0 } });
    e = one('Mul', [one('Mul', [poly, fracV]), negV]);
  } else {
    e = one('Exp', [x]);
  }

  // Inverse CDF: the first k with cumsum[k] >= u0 * sum; a zero-probability k never qualifies first.
  const cs = one('CumSum', [e, constant('axis2_scalar', 'int64', [], [2])]);
  const sum = one('Slice', [cs, constant('last_start', 'int64', [1], [K - 1]), constant('last_end', 'int64', [1], [K]), axis2]);
  const target = one('Mul', [one('Unsqueeze', [io.target, axis2]), sum]);
  const reached = one('Cast', [one('GreaterOrEqual', [cs, target])], { to: { int: CAST.float } });
  const cand = one('ArgMax', [reached], { axis: { int: 2 }, keepdims: { int: 1 } }); // int64 [B, m, 1]
  const p = one('GatherElements', [e, cand], { axis: { int: 2 } });
  const logp = one('Squeeze', [one('Log', [one('Div', [p, sum])]), axis2]);
  const confidence = one('Add', [logp, io.noise]);
  const [, pick] = op('TopK', [confidence, io.k], { axis: { int: 1 }, largest: { int: 1 }, sorted: { int: 1 } }, 2);
  nodes.push({ op: 'Identity', inputs: [pick!], outputs: [io.pick] });
  nodes.push({ op: 'GatherElements', inputs: [one('Squeeze', [cand, axis2]), pick!], outputs: [io.tokens], attrs: { axis: { int: 1 } } });

  const inputs: ValueSpec[] = [
    { name: io.logits, dtype: 'float', dims: ['R', L, K] },
    { name: io.condRows, dtype: 'int32', dims: ['B', 'm'] },
    ...(guided ? [{ name: io.uncondRows, dtype: 'int32', dims: ['B', 'm'] } as const] : []),
    { name: io.target, dtype: T, dims: ['B', 'm'] },
    { name: io.noise, dtype: T, dims: ['B', 'm'] },
    { name: io.a, dtype: T, dims: [1] },
    ...(guided ? [{ name: io.b, dtype: T, dims: [1] } as const] : []),
    { name: io.k, dtype: 'int64', dims: [1] },
  ];
  const outputs: ValueSpec[] = [
    { name: io.pick, dtype: 'int64', dims: ['B', 'k'] },
    { name: io.tokens, dtype: 'int64', dims: ['B', 'k'] },
    { name: io.badAny, dtype: 'float', dims: [1, 1] },
    { name: io.badIndex, dtype: 'int64', dims: [1, 1] },
  ];
  return writeOnnxModel({ name: `migm_sampler_${guided ? 'guided' : 'plain'}_${precision}`, inputs, outputs, initializers: inits, nodes, opset: 17 });
}
