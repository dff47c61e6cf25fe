import type { Backend, FeatureTensor } from '../backend/types.js';

/**
 * The features one generate() run holds. `hold` registers a feature, `drop` releases it once (a second drop,
 * or a drop of a feature the arena does not hold, does nothing), and `releaseAll` ends the run: nothing a
 * predictor kept can outlive it, whatever way the run ended.
 */
export class FeatureArena {
  readonly #held = new Set<FeatureTensor>();
  constructor(private readonly backend: Backend) {}

  hold(feature: FeatureTensor): FeatureTensor {
    this.#held.add(feature);
    return feature;
  }

  drop(feature: FeatureTensor | null | undefined): void {
    if (feature != null && this.#held.delete(feature)) this.backend.release(feature);
  }

  holds(feature: FeatureTensor): boolean {
    return this.#held.has(feature);
  }

  /** Releases everything still held; errors of an already disposed backend are ignored (its memory is gone). */
  releaseAll(): void {
    for (const f of this.#held) {
      try {
        this.backend.release(f);
      } catch {
        /* already gone with its backend */
      }
    }
    this.#held.clear();
  }
}
