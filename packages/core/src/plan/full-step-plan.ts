import { invalidOption } from '../errors.js';
import { roundHalfEven } from '../schedules/float32.js';

/**
 * The paper's full-step plan for N steps with a budget of B full (base-model) steps:
 * step 0 is full; then s_k = max(s_{k-1} + 1, round(N * k / B)) for k = 1..B-1 (round half to even).
 *
 * @example fullStepPlan(32, 12) // [0, 3, 5, 8, 11, 13, 16, 19, 21, 24, 27, 29]
 */
export function fullStepPlan(steps: number, budget: number): Int32Array {
  if (!Number.isInteger(steps) || steps < 1) throw invalidOption('steps', steps, 'an integer >= 1 is allowed');
  if (!Number.isInteger(budget) || budget < 1 || budget > steps) {
    throw invalidOption('budget', budget, `an integer from 1 to steps (${steps}) is allowed`);
  }
  const plan = new Int32Array(budget);
  for (let k = 1; k < budget; k++) {
    plan[k] = Math.max(plan[k - 1]! + 1, roundHalfEven((steps * k) / budget));
  }
  return plan;
}

/** Validates an explicit plan: strictly increasing step indices in [0, N) that start with 0. */
export function checkPlan(plan: ArrayLike<number>, steps: number): Int32Array {
  if (plan == null || typeof plan.length !== 'number' || plan.length < 1 || plan.length > steps) {
    throw invalidOption('plan', plan, `a list of 1 to ${steps} step indices is allowed`);
  }
  const out = new Int32Array(plan.length);
  for (let i = 0; i < plan.length; i++) {
    const s = plan[i]!;
    const prev = i === 0 ? -1 : out[i - 1]!;
    if (!Number.isInteger(s) || s < 0 || s >= steps || s <= prev) {
      throw invalidOption(`plan[${i}]`, s, `the plan must be strictly increasing integers in [0, ${steps - 1}]`);
    }
    out[i] = s;
  }
  if (out[0] !== 0) throw invalidOption('plan[0]', out[0], 'step 0 must be a full step (there is no feature before it)');
  return out;
}

/** Boolean mask of full steps for a plan. */
export function planMask(plan: Int32Array, steps: number): Uint8Array {
  const full = new Uint8Array(steps);
  for (let i = 0; i < plan.length; i++) full[plan[i]!] = 1;
  return full;
}
