import type { FeatureTerm } from '../backend/types.js';
import { combined, FullStepHistory } from './taylor.js';
import { definePredictor } from './types.js';

/**
 * Two-step Adams-Bashforth coefficients for the feature at `target` from full-step features at s0 < s1 < s2.
 * The velocities are backward differences v2 = (f2 - f1) / h2 and v1 = (f1 - f0) / h1, taken as the derivative
 * at their right-hand step (as Adams-Bashforth uses derivative values at the nodes; taken at the midpoints they
 * would give Taylor order 2 exactly). With tau = target - s2:
 *   f = f2 + tau * ((1 + tau / (2 h2)) v2 - tau / (2 h2) v1)
 * which damps the quadratic term that Taylor order 2 extrapolates in full.
 */
export function adamsBashforthCoefficients(s0: number, s1: number, s2: number, target: number): [number, number, number] {
  const h1 = s1 - s0;
  const h2 = s2 - s1;
  const tau = target - s2;
  const a = (tau * (1 + tau / (2 * h2))) / h2;
  const b = (tau * tau) / (2 * h2 * h1);
  return [b, -(a + b), 1 + a];
}

/**
 * A training-free multi-step forecaster over the last full-step features (Adams-Bashforth style, in the spirit
 * of PrediT and TaylorSeer): with three full-step features it uses the two-step formula above; with two, first
 * order (Taylor); with one, the logits are reused.
 */
export const adams = definePredictor({
  name: 'adams',
  label: 'Adams-Bashforth forecast',
  summary: 'two-step Adams-Bashforth forecast from the last three full-step features (training-free)',
  needsVelocity: false,
  accelerated: true,
  fullStepHistory: () => 3,
  create(env) {
    const history = new FullStepHistory(env, 3);
    return {
      full(step, feature) {
        history.push(step, feature);
        return true;
      },
      async skipped(step) {
        const h = history.items;
        if (h.length < 2) return null;
        let terms: FeatureTerm[];
        if (h.length === 2) {
          const slope = (step.step - h[1]!.step) / (h[1]!.step - h[0]!.step);
          terms = [
            { feature: h[0]!.feature, coef: -slope },
            { feature: h[1]!.feature, coef: 1 + slope },
          ];
        } else {
          const c = adamsBashforthCoefficients(h[0]!.step, h[1]!.step, h[2]!.step, step.step);
          terms = h.map((x, j) => ({ feature: x.feature, coef: c[j]! }));
        }
        return combined(env, terms);
      },
      latest: () => null,
    };
  },
});
