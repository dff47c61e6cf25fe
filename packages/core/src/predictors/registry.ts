import { adams } from './adams.js';
import { shortcutTaylor } from './shortcut-taylor.js';
import { shortcut } from './shortcut.js';
import { reuse } from './reuse.js';
import { taylor } from './taylor.js';
import type { PredictorDefinition } from './types.js';
import { vanilla } from './vanilla.js';

/**
 * Every skipped-step method, by name: the one list the CLI, the bench, the demo, the conformance suite and the
 * docs read. Adding a method is one file in this folder and one line here.
 */
export const PREDICTOR_REGISTRY = [vanilla, shortcut, reuse, taylor, shortcutTaylor, adams] as const satisfies readonly PredictorDefinition[];

/** The name of a registered predictor. */
export type Predictor = (typeof PREDICTOR_REGISTRY)[number]['name'];

/** Every predictor name, in registry order. */
export const PREDICTORS: readonly Predictor[] = PREDICTOR_REGISTRY.map((p) => p.name);

/**
 * Names the first releases used, before one name per method: still accepted by generate() and
 * `predictorDefinition`, which answer with the method's one name.
 */
export const LEGACY_PREDICTOR_NAMES = { none: 'vanilla', learned: 'shortcut', 'learned-taylor': 'shortcut-taylor' } as const satisfies Record<
  string,
  Predictor
>;

/** A legacy name (see `LEGACY_PREDICTOR_NAMES`). */
export type LegacyPredictorName = keyof typeof LEGACY_PREDICTOR_NAMES;

/** The definition of a predictor by name or legacy name (undefined for an unknown name). */
export function predictorDefinition(name: string): PredictorDefinition | undefined {
  const canonical = Object.hasOwn(LEGACY_PREDICTOR_NAMES, name) ? LEGACY_PREDICTOR_NAMES[name as LegacyPredictorName] : name;
  return PREDICTOR_REGISTRY.find((p) => p.name === canonical);
}
