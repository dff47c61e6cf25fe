import { definePredictor, predictsNothing } from './types.js';

/** Vanilla sampling: every step runs the base model, so nothing is ever predicted. */
export const vanilla = definePredictor({
  name: 'vanilla',
  label: 'Vanilla (all steps full)',
  summary: 'vanilla: every step runs the base model (budget and plan do not apply)',
  needsVelocity: false,
  accelerated: false,
  fullStepHistory: () => 1,
  create: predictsNothing,
});
