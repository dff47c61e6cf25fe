import { MigmError } from '../errors.js';
import type { FeatureTensor, FeatureTerm } from '../backend/types.js';

/** A feature tensor in host memory: the reference representation, used by CPU backends and tests. */
export class HostFeature implements FeatureTensor {
  readonly dims: readonly [number, number, number];
  #data: Float32Array | null;

  constructor(data: Float32Array, dims: readonly [number, number, number]) {
    if (data.length !== dims[0] * dims[1] * dims[2]) {
      throw new MigmError('INVALID_OPTION', `Feature data has ${data.length} values but dims [${dims.join(', ')}] need ${dims[0] * dims[1] * dims[2]}.`);
    }
    this.#data = data;
    this.dims = dims;
  }

  get released(): boolean {
    return this.#data === null;
  }

  /** The values; throws DISPOSED after release. */
  get data(): Float32Array {
    if (this.#data === null) throw new MigmError('DISPOSED', 'This feature tensor was released and cannot be used.');
    return this.#data;
  }

  release(): void {
    if (this.#data === null) throw new MigmError('DISPOSED', 'This feature tensor was already released.');
    this.#data = null;
  }
}

/**
 * Reference linear combination out = sum_j coef_j * x_j over host arrays, in float32 as a device would store
 * it. It serves the integrator f_next = f + dt * v (the learned shortcut uses dt = 1: its network predicts the
 * whole step, PAPER.md section 3) and Taylor extrapolation.
 */
export function combineHost(out: Float32Array, arrays: readonly Float32Array[], coefs: ArrayLike<number>): Float32Array {
  const n = out.length;
  for (const a of arrays) {
    if (a.length !== n) throw new MigmError('INVALID_OPTION', `Feature combine: operands have ${a.length} and ${n} values; they must match.`);
  }
  const first = arrays[0];
  if (first === undefined) {
    out.fill(0);
    return out;
  }
  const c0 = coefs[0]!;
  if (arrays.length === 2 && coefs[1] !== 0) {
    // The shortcut's f + v, once per skipped step: one pass instead of two. fround keeps the bits of the
    // general path below, which stores c0 * first as float32 before adding.
    const second = arrays[1]!;
    const c1 = coefs[1]!;
    let i = 0;
    if (c0 === 1) {
      // f + dt * v: 1 * x needs no rounding, and V8 runs this loop a third faster unrolled.
      for (; i + 3 < n; i += 4) {
        out[i] = first[i]! + c1 * second[i]!;
        out[i + 1] = first[i + 1]! + c1 * second[i + 1]!;
        out[i + 2] = first[i + 2]! + c1 * second[i + 2]!;
        out[i + 3] = first[i + 3]! + c1 * second[i + 3]!;
      }
    }
    for (; i < n; i++) out[i] = Math.fround(c0 * first[i]!) + c1 * second[i]!;
    return out;
  }
  if (arrays.indexOf(out, 1) !== -1) {
    // out is a later operand: the first pass below would overwrite it before it is read.
    out.set(combineHost(new Float32Array(n), arrays, coefs));
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = c0 * first[i]!;
  for (let j = 1; j < arrays.length; j++) {
    const a = arrays[j]!;
    const c = coefs[j]!;
    if (c === 0) continue;
    for (let i = 0; i < n; i++) out[i] = out[i]! + c * a[i]!;
  }
  return out;
}

/**
 * Classifier-free guidance in feature space: for a feature [2B, L, D] laid out [cond rows; uncond rows], writes
 * (1 + w) f_cond - w f_uncond [B, L, D] into `out` (float32, as `combineHost` stores two terms). Through an affine
 * head this gives the guided logits for half the head's work (`Backend.guidedHead`).
 */
export function guideFeatureHost(out: Float32Array, feature: Float32Array, weight: number): Float32Array {
  const half = feature.length >>> 1;
  if (feature.length % 2 !== 0 || out.length !== half) {
    throw new MigmError(
      'INVALID_OPTION',
      `Feature guidance: the feature has ${feature.length} values and out ${out.length}; out must hold half of an even-sized feature.`,
    );
  }
  if (!Number.isFinite(weight) || weight < 0)
    throw new MigmError('INVALID_OPTION', `Feature guidance: weight ${weight} is not allowed; a finite number >= 0 is.`);
  const a = 1 + weight;
  const b = -weight;
  for (let i = 0; i < half; i++) out[i] = Math.fround(a * feature[i]!) + b * feature[half + i]!;
  return out;
}

/** f_next = f + dt * v on host arrays (dt = 1 for the learned shortcut's velocity). */
export function integrateHost(out: Float32Array, feature: Float32Array, velocity: Float32Array, dt: number): Float32Array {
  return combineHost(out, [feature, velocity], [1, dt]);
}

/** Checks that all terms have the same dims; returns those dims. */
export function checkTerms(terms: readonly FeatureTerm[]): readonly [number, number, number] {
  if (!Array.isArray(terms))
    throw new MigmError('INVALID_OPTION', `Feature combine needs an array of { feature, coef } terms, got ${terms === null ? 'null' : typeof terms}.`);
  const first = terms[0];
  if (first === undefined) throw new MigmError('INVALID_OPTION', 'Feature combine needs at least one term.');
  for (const t of terms) {
    if (
      t === null ||
      typeof t !== 'object' ||
      t.feature === null ||
      typeof t.feature !== 'object' ||
      !Array.isArray(t.feature.dims) ||
      t.feature.dims.length !== 3
    ) {
      throw new MigmError('INVALID_OPTION', 'Feature combine: every term must be { feature, coef } with a feature tensor made by this backend.');
    }
  }
  const [r, l, d] = first.feature.dims;
  for (const t of terms) {
    const [r2, l2, d2] = t.feature.dims;
    if (r2 !== r || l2 !== l || d2 !== d) {
      throw new MigmError('INVALID_OPTION', `Feature combine: dims [${t.feature.dims.join(', ')}] differ from [${first.feature.dims.join(', ')}].`);
    }
    if (!Number.isFinite(t.coef)) throw new MigmError('INVALID_OPTION', `Feature combine: coefficient ${t.coef} is not finite.`);
  }
  return first.feature.dims;
}
