import { definePredictor, predictsNothing } from './types.js';

/** Feature reuse (v = 0): a skipped step keeps the last full step's logits. */
export const reuse = definePredictor({
  name: 'reuse',
  label: 'Reuse last feature',
  summary: "the last full step's feature unchanged, so its logits are reused",
  needsVelocity: false,
  accelerated: true,
  fullStepHistory: () => 1,
  create: predictsNothing,
});
