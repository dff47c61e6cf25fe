import type { FeatureTensor } from '../backend/types.js';
import type { Prediction, PredictorDefinition, PredictorEnv, PredictorRun, SkippedStep } from '../predictors/types.js';

/**
 * The predictor's side of a run: one `PredictorRun` of the chosen method, told about every full step's feature
 * and asked for every skipped step's. Where the guidance cutoff changes a full step's row count (2B to B or back),
 * features of the two counts cannot be combined, so the arena is emptied and the method starts over (only
 * methods that keep no full-step history across that switch get there; see `unconditionalSteps`).
 */
export class PredictorSession {
  #run: PredictorRun;
  #rows = 0;

  constructor(
    private readonly definition: PredictorDefinition,
    private readonly env: PredictorEnv,
  ) {
    this.#run = definition.create(env);
  }

  /** Rows of the features the run holds: those of its last full step (0 before the first). */
  get rows(): number {
    return this.#rows;
  }

  /** Before a full step's forward on `rows` rows: starts the method over when the row count changed. */
  beginFull(rows: number): void {
    if (this.#rows !== 0 && rows !== this.#rows) {
      this.env.arena.releaseAll();
      this.#run = this.definition.create(this.env);
    }
    this.#rows = rows;
  }

  /** The full step's feature (held by the arena); true when the method keeps it. */
  full(step: number, feature: FeatureTensor): boolean {
    return this.#run.full(step, feature);
  }

  /** What fills a skipped step: a feature for the head, or null to keep the logits. */
  skipped(step: SkippedStep): Promise<Prediction | null> {
    return this.#run.skipped(step);
  }

  /** The feature whose logits the buffer holds when `skipped` returned null, or null. */
  latest(): FeatureTensor | null {
    return this.#run.latest();
  }
}
