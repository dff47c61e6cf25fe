import { AdaptiveRefresh } from '../plan/adaptive-refresh.js';
import type { ResolvedOptions } from '../generate/options.js';

/** What the loop asks about full steps: whether step i runs the base model, and where they ran. */
export interface RefreshPolicy {
  /** Whether step i runs the base model (asked once per step, in order). */
  decide(step: number): boolean;
  /** After the step's commit: the mean log p of the tokens it committed, read only by a policy that needs it. */
  observe(step: number, full: boolean, signal: { meanCommittedLogProb(): number }): void;
  /** The steps that ran the base model so far. */
  plan(): Int32Array;
}

/** The fixed plan (`refresh: 'plan'`), or the adaptive policy (`refresh: 'adaptive'`) within the same budget. */
export function refreshPolicy(o: Pick<ResolvedOptions, 'refresh' | 'steps' | 'plan' | 'fullMask' | 'refreshTolerance'>): RefreshPolicy {
  const adaptive = o.refresh === 'adaptive' ? new AdaptiveRefresh(o.steps, o.plan.length, o.refreshTolerance) : null;
  const taken: number[] = [];
  return {
    decide(step) {
      const full = adaptive ? adaptive.decide(step) : o.fullMask[step] === 1;
      if (full) taken.push(step);
      return full;
    },
    observe(step, full, signal) {
      adaptive?.observe(step, full, signal.meanCommittedLogProb());
    },
    plan: () => Int32Array.from(taken),
  };
}
