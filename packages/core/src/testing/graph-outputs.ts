import type { Backend, FeatureTensor, ForwardInput, TextHandle } from '../backend/types.js';
import { RandomStreams } from '../random/prng.js';

/** Options of {@link graphOutputs}. */
export interface GraphOutputsOptions {
  /** Seed of the random inputs (core's PRNG). Default 1234. */
  readonly seed?: number;
  /** Batch rows. Default 4. */
  readonly rows?: number;
  /** Tokens revealed per row for the velocity call. Default 12 (at most the token count). */
  readonly newTokens?: number;
}

/**
 * Every graph of a backend on seeded random inputs that depend only on the manifest and the seed, so two backends
 * of the same bundle (a CPU and a GPU provider, wasm and WebGPU) can be compared output by output. It runs
 * `forward` (tokens include the mask id, classes the null class; a text bundle's rows alternate between
 * `GRAPH_OUTPUT_PROMPT` and the negative prompt), `head` and `velocity` (when the backend has
 * it) of that forward's feature, `guidedHead` with weight 2.5 (when the backend offers it), and `decode` of
 * random codes. Returns every output in host memory, keyed `forward.logits`, `forward.feature`, `head.logits`,
 * `guidedHead.logits`, `velocity` and `decode.pixels`. It releases every feature it makes.
 *
 * @example
 * const a = await graphOutputs(cpuBackend);
 * const b = await graphOutputs(gpuBackend);
 * for (const k of Object.keys(a)) console.log(k, maxAbsDiff(a[k]!, b[k]!));
 */
export async function graphOutputs(backend: Backend, options: GraphOutputsOptions = {}): Promise<Record<string, Float32Array>> {
  const { codebookSize: K, count: L, maskId } = backend.manifest.tokens;
  const rows = options.rows ?? 4;
  const n = Math.min(options.newTokens ?? 12, L);
  const random = new RandomStreams(options.seed ?? 1234, 1);
  const ints = (count: number, max: number) => Int32Array.from({ length: count }, () => Math.floor(random.uniform(0) * max));
  const tokens = ints(rows * L, maskId + 1);
  const c = backend.manifest.condition;
  const codes = ints(rows * L, K);
  const control = { tokens: ints(rows * n, K), positions: ints(rows * n, L), count: n, ratio: Float32Array.from({ length: rows }, () => random.uniform(0)) };

  const logits = new Float32Array(rows * L * K);
  let text: TextHandle | null = null;
  let condition: Pick<ForwardInput, 'classes' | 'text'>;
  if (c.type === 'class') condition = { classes: ints(rows, c.nullClassId + 1) };
  else {
    // Two prompts (one of them the empty negative prompt), alternating over the rows.
    const T = c.maxLength;
    const ids = new Int32Array(2 * T);
    ids.set(backend.tokenizer!.encode(GRAPH_OUTPUT_PROMPT).ids);
    ids.set(backend.tokenizer!.encode(c.negativePrompt).ids, T);
    text = await backend.encodeText!(ids, 2);
    const micro = c.microConditioning?.default ?? [];
    const microConds = new Float32Array(rows * micro.length);
    for (let r = 0; r < rows; r++) microConds.set(micro, r * micro.length);
    condition = { text: { handle: text, index: Int32Array.from({ length: rows }, (_, r) => r % 2), microConds } };
  }
  let feature: FeatureTensor;
  try {
    feature = await backend.forward({ tokens, ...condition, rows, logits });
  } catch (err) {
    if (text !== null) backend.release(text);
    throw err;
  }
  try {
    const out: Record<string, Float32Array> = { 'forward.logits': logits, 'forward.feature': await backend.readFeature(feature) };
    const headLogits = new Float32Array(rows * L * K);
    await backend.head(feature, headLogits);
    out['head.logits'] = headLogits;
    if (backend.capabilities.guidedHead === true && backend.guidedHead && rows % 2 === 0) {
      const guided = new Float32Array((rows / 2) * L * K);
      await backend.guidedHead(feature, 2.5, guided);
      out['guidedHead.logits'] = guided;
    }
    if (backend.velocity) {
      const v = await backend.velocity(feature, control);
      try {
        out['velocity'] = await backend.readFeature(v);
      } finally {
        backend.release(v);
      }
    }
    out['decode.pixels'] = (await backend.decode(codes, rows)).data;
    return out;
  } finally {
    backend.release(feature);
    if (text !== null) backend.release(text);
  }
}

/** The prompt `graphOutputs` conditions a text bundle's rows on (alternating with the negative prompt). */
export const GRAPH_OUTPUT_PROMPT = 'a photograph of an astronaut riding a horse';

/** Largest |a[i] - b[i]|; NaN when either side has a NaN there (so a tolerance check `d <= tol` fails). Lengths must match. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return Number.NaN;
    if (d > m) m = d;
  }
  return m;
}

/** Share of positions where two token arrays hold the same id (1 = identical). Lengths must match and be > 0. */
export function equalShare(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`equalShare: lengths must match and be > 0 (${a.length} vs ${b.length})`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
