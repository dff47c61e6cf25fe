import { PREDICTOR_REGISTRY, predictorDefinition, type Predictor } from '@migm/core';

/**
 * `--method` takes core's one name per method, read from the registry: a method added there appears here, in
 * the bench and in the demo without an edit.
 */
export const METHODS: Readonly<Record<string, Predictor>> = Object.fromEntries(PREDICTOR_REGISTRY.map((p) => [p.name, p.name]));
export type Method = string;
export const METHOD_NAMES: readonly Method[] = Object.keys(METHODS);

/** The core predictor of a CLI method name (names come from METHOD_NAMES, so an unknown one is a bug). */
export function predictorOf(method: Method): Predictor {
  const p = METHODS[method];
  if (p === undefined) throw new Error(`unknown method '${method}' (methods: ${METHOD_NAMES.join(', ')})`);
  return p;
}

/** Methods that skip steps (budget applies), in registry order. */
export const ACCELERATED_METHODS: readonly Method[] = METHOD_NAMES.filter((m) => predictorDefinition(predictorOf(m))!.accelerated);

/** Training-free methods (no learned shortcut): the rivals a shortcut method is judged against at equal latency. */
export const TRAINING_FREE_METHODS: readonly Method[] = METHOD_NAMES.filter((m) => !predictorDefinition(predictorOf(m))!.needsVelocity);
