import type { FeatureTensor, FeatureTerm } from '../backend/types.js';

/**
 * Taylor (polynomial) extrapolation of the feature to step `target` from the last full-step features, as a
 * linear combination (Lagrange form). Order 1 with full steps j < i gives f_i + (target - i) * (f_i - f_j) / (i - j),
 * i.e. the integrator f + dt * v with the finite-difference velocity; order 2 uses the last three.
 * With fewer stored features than order + 1 the order drops to what is available.
 */
export function taylorTerms(history: readonly { step: number; feature: FeatureTensor }[], target: number, order: 1 | 2): FeatureTerm[] {
  const pts = history.slice(-Math.min(order + 1, history.length));
  return pts.map((p, j) => {
    let coef = 1;
    for (let m = 0; m < pts.length; m++) {
      if (m !== j) coef *= (target - pts[m]!.step) / (p.step - pts[m]!.step);
    }
    return { feature: p.feature, coef };
  });
}

/** Coefficients only (for tests and for backends that integrate on their device). */
export function taylorCoefficients(steps: readonly number[], target: number): Float64Array {
  const out = new Float64Array(steps.length);
  for (let j = 0; j < steps.length; j++) {
    let coef = 1;
    for (let m = 0; m < steps.length; m++) if (m !== j) coef *= (target - steps[m]!) / (steps[j]! - steps[m]!);
    out[j] = coef;
  }
  return out;
}
