/**
 * The bench's method names are the CLI's (`migm generate --method`), which come from core's registry
 * (PREDICTOR_REGISTRY): a method added there gets bench rows without an edit here.
 */
export { ACCELERATED_METHODS, METHOD_NAMES, predictorOf, TRAINING_FREE_METHODS, type Method } from '@migm/cli';
