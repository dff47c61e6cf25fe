import { adams } from './adams.js';
import { learnedTaylor } from './learned-taylor.js';
import { learned } from './learned.js';
import { reuse } from './reuse.js';
import { taylor } from './taylor.js';
import type { PredictorDefinition } from './types.js';
import { vanilla } from './vanilla.js';

/**
 * Every skipped-step method, by name: the one list the CLI, the bench, the demo, the conformance suite and the
 * docs read. Adding a method is one file in this folder and one line here.
 */
export const PREDICTOR_REGISTRY = [vanilla, learned, reuse, taylor, learnedTaylor, adams] as const satisfies readonly PredictorDefinition[];

/** The name of a registered predictor. */
export type Predictor = (typeof PREDICTOR_REGISTRY)[number]['name'];

/** Every predictor name, in registry order. */
export const PREDICTORS: readonly Predictor[] = PREDICTOR_REGISTRY.map((p) => p.name);

/** The definition of a predictor by name (undefined for an unknown name). */
export function predictorDefinition(name: string): PredictorDefinition | undefined {
  return PREDICTOR_REGISTRY.find((p) => p.name === name);
}
