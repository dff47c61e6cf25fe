import type { FeatureTensor, FeatureTerm } from '../backend/types.js';
import { taylorTerms } from '../features/taylor.js';
import { definePredictor, type Prediction, type PredictorEnv } from './types.js';

/** The last full-step features, as many as an extrapolation of `keep` points needs. */
export class FullStepHistory {
  readonly items: { step: number; feature: FeatureTensor }[] = [];
  constructor(
    private readonly env: PredictorEnv,
    private readonly keep: number,
  ) {}

  push(step: number, feature: FeatureTensor): void {
    this.items.push({ step, feature });
    while (this.items.length > this.keep) this.env.arena.drop(this.items.shift()!.feature);
  }

  get length(): number {
    return this.items.length;
  }
}

/** A linear combination of held features as a transient prediction (the loop drops it after the step). */
export async function combined(env: PredictorEnv, terms: FeatureTerm[]): Promise<Prediction> {
  return { feature: env.arena.hold(await env.call('combine', () => env.backend.combine(terms))), kept: false };
}

/** The Taylor-extrapolated feature at `step` from the history. */
export function extrapolate(env: PredictorEnv, history: FullStepHistory, step: number): Promise<Prediction> {
  return combined(env, taylorTerms(history.items, step, env.taylorOrder));
}

/**
 * Taylor extrapolation from the last full-step features (first order by default, `taylorOrder` 2 uses three).
 * Before the second full step there is nothing to extrapolate from, and the logits are reused.
 */
export const taylor = definePredictor({
  name: 'taylor',
  label: 'Taylor extrapolation',
  summary: 'polynomial extrapolation from the last full-step features (order 1, or taylorOrder 2)',
  needsVelocity: false,
  accelerated: true,
  fullStepHistory: (order) => order + 1,
  create(env) {
    const history = new FullStepHistory(env, env.taylorOrder + 1);
    return {
      full(step, feature) {
        history.push(step, feature);
        return true;
      },
      async skipped(step) {
        return history.length < 2 ? null : extrapolate(env, history, step.step);
      },
      latest: () => null,
    };
  },
});
