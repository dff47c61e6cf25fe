import type { FeatureTensor } from '../backend/types.js';
import { shortcutStep } from './shortcut-chain.js';
import { definePredictor } from './types.js';

/** The learned shortcut (MIGM-Shortcut): each skipped step integrates the predicted velocity from the last feature. */
export const shortcut = definePredictor({
  name: 'shortcut',
  label: 'Shortcut (learned)',
  summary: "the learned shortcut's velocity, integrated f_next = f + v (the paper's method)",
  needsVelocity: true,
  accelerated: true,
  fullStepHistory: () => 1,
  create(env) {
    let current: FeatureTensor | null = null;
    return {
      full(_step, feature) {
        env.arena.drop(current);
        current = feature;
        return true;
      },
      async skipped(step) {
        // A step that revealed nothing left the token state, hence the feature, unchanged.
        if (step.lastRevealed === 0 || current === null) return null;
        const p = await shortcutStep(env, current, true, step);
        current = p.feature;
        return p;
      },
      latest: () => current,
    };
  },
});
