import type { Predictor } from '@migm/core';

/** CLI method names (the paper's words) and the core predictor each runs. */
export const METHODS = {
  vanilla: 'none',
  shortcut: 'learned',
  reuse: 'reuse',
  taylor: 'taylor',
  /** The shortcut until the second full step, then Taylor (core's 'learned-taylor'). */
  'shortcut-taylor': 'learned-taylor',
} as const satisfies Record<string, Predictor>;
export type Method = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as Method[];
