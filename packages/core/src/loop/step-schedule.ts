import type { ResolvedOptions } from '../generate/options.js';

/**
 * A run's steps as data, fixed before the first one runs (as a sampler's sigmas are): what each step reveals,
 * how strongly it is guided, which rows its base-model call runs, and how much noise its confidences get.
 */
export interface StepSchedule {
  readonly steps: number;
  /** Tokens each image reveals at step i. */
  readonly counts: Int32Array;
  /** The largest of `counts`: the size of the per-step reveal buffers. */
  readonly maxCount: number;
  /** Guidance weight of step i. */
  readonly weights: Float64Array;
  /** Rows of a full step's forward at step i (see `forwardRows`). */
  readonly rows: Int32Array;
  /** Scale of the confidence noise at step i when it is a full step (r_temp times the annealing factor). */
  readonly fullNoise: Float64Array;
  /** The same at a skipped step (`skippedRandomizeTemperature`). */
  readonly skippedNoise: Float64Array;
}

/** The schedule of a run, from its resolved options. */
export function stepSchedule(o: ResolvedOptions): StepSchedule {
  const N = o.steps;
  let maxCount = 0;
  for (let i = 0; i < N; i++) maxCount = Math.max(maxCount, o.counts[i]!);
  const fullNoise = new Float64Array(N);
  const skippedNoise = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const anneal = confidenceAnneal(o.confidenceNoise, i, N);
    fullNoise[i] = o.randomizeTemperature * anneal;
    skippedNoise[i] = o.skippedRandomizeTemperature * anneal;
  }
  return { steps: N, counts: o.counts, maxCount, weights: o.weights, rows: forwardRows(o.unconditional, o.batch), fullNoise, skippedNoise };
}

/**
 * Which rows a full step runs: the doubled batch [cond rows; uncond rows] (2B) where the step needs the
 * unconditional branch, the conditional rows alone (B) where guidance is off or under the guidance cutoff.
 */
export function forwardRows(unconditional: Uint8Array, batch: number): Int32Array {
  return Int32Array.from(unconditional, (u) => (u === 1 ? 2 * batch : batch));
}

/** MaskGIT's confidence noise falls linearly from 1 at the first step to 0 at the last; DiMOO's stays at 1. */
export function confidenceAnneal(noise: ResolvedOptions['confidenceNoise'], step: number, steps: number): number {
  return noise === 'constant' ? 1 : steps === 1 ? 0 : 1 - step / (steps - 1);
}
