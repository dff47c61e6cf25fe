import type { FeatureTensor } from '../backend/types.js';
import { shortcutStep } from './shortcut-chain.js';
import { extrapolate, FullStepHistory } from './taylor.js';
import { definePredictor } from './types.js';

/**
 * The learned shortcut until two full steps have run, then Taylor. Before its second full step Taylor would
 * reuse step 0's logits, which commit the tokens that fix an image's layout; the shortcut is most accurate
 * exactly there (docs/training-report.md).
 */
export const shortcutTaylor = definePredictor({
  name: 'shortcut-taylor',
  label: 'Shortcut, then Taylor',
  summary: 'the learned shortcut until the second full step, then Taylor',
  needsVelocity: true,
  accelerated: true,
  fullStepHistory: (order) => order + 1,
  create(env) {
    const history = new FullStepHistory(env, env.taylorOrder + 1);
    // The shortcut's own chain from the last full-step feature (which the history holds).
    let chain: FeatureTensor | null = null;
    return {
      full(step, feature) {
        env.arena.drop(chain);
        chain = null;
        history.push(step, feature);
        return true;
      },
      async skipped(step) {
        if (history.length < 2) {
          if (step.lastRevealed === 0) return null;
          const from = chain ?? history.items.at(-1)!.feature;
          const p = await shortcutStep(env, from, from === chain, step);
          chain = p.feature;
          return p;
        }
        return extrapolate(env, history, step.step);
      },
      latest: () => chain,
    };
  },
});
