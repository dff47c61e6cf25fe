import { invalidOption } from '../errors.js';

/**
 * Classifier-free guidance weight per step.
 * - a number: constant weight w (Lumina-DiMOO style);
 * - `{ scale, schedule: 'constant' | 'linear' }`: 'linear' ramps w_i = scale * i / (N - 1) (MaskGIT);
 * - `{ weights }`: one weight per step.
 * Guided logits are (1 + w_i) * l_cond - w_i * l_uncond over the batch layout [cond rows; uncond rows].
 */
export type Guidance = number | { readonly scale: number; readonly schedule: 'constant' | 'linear' } | { readonly weights: ArrayLike<number> };

/** Resolves a guidance option into one weight per step (Float64Array of length N, all finite and >= 0). */
export function guidanceWeights(guidance: Guidance, steps: number): Float64Array {
  const out = new Float64Array(steps);
  if (typeof guidance === 'number') {
    checkWeight('guidance', guidance);
    out.fill(guidance);
    return out;
  }
  if (guidance == null || typeof guidance !== 'object') {
    throw invalidOption('guidance', guidance, 'a number, { scale, schedule: "constant" | "linear" } or { weights } is allowed');
  }
  if ('weights' in guidance) {
    const w = guidance.weights;
    if (w == null || w.length !== steps) throw invalidOption('guidance.weights', w, `one weight per step (${steps}) is required`);
    for (let i = 0; i < steps; i++) {
      checkWeight(`guidance.weights[${i}]`, w[i]);
      out[i] = w[i]!;
    }
    return out;
  }
  const { scale, schedule } = guidance;
  checkWeight('guidance.scale', scale);
  if (schedule === 'constant') out.fill(scale);
  // A single step is also the last one: progress i/(N-1) is taken as 1, as in the PyTorch reference sampler.
  else if (schedule === 'linear') for (let i = 0; i < steps; i++) out[i] = steps === 1 ? scale : (scale * i) / (steps - 1);
  else throw invalidOption('guidance.schedule', schedule, 'allowed: "constant", "linear"');
  return out;
}

function checkWeight(option: string, w: unknown): void {
  if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw invalidOption(option, w, 'a finite number >= 0 is allowed');
}

/**
 * Reference CFG combine over whole tensors: out = (1 + w) * cond - w * uncond. The sampler fuses this into its
 * per-row pass; this form is for backends and tests.
 */
export function applyGuidance(cond: Float32Array, uncond: Float32Array, weight: number, out: Float32Array): Float32Array {
  if (cond.length !== uncond.length || out.length !== cond.length) {
    throw invalidOption('guidance tensors', out.length, `cond, uncond and out must have the same length (${cond.length}, ${uncond.length})`);
  }
  const a = 1 + weight;
  for (let i = 0; i < cond.length; i++) out[i] = a * cond[i]! - weight * uncond[i]!;
  return out;
}
