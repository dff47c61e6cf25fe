import type { Backend, FeatureTensor, VelocityControl } from '../backend/types.js';
import type { FeatureArena } from '../predictors/arena.js';
import type { BackendCalls } from './backend-calls.js';
import type { LogitsBuffer } from './logits-buffer.js';
import type { PredictorSession } from './predictor-session.js';
import type { RowConditions } from './row-conditions.js';
import type { TokenGrid } from './token-grid.js';
import { ControlBuffers } from './velocity-control.js';

/** A step's feature (null where none was made) and whether the predictor keeps it past the step. */
export interface StepFeature {
  readonly feature: FeatureTensor | null;
  readonly kept: boolean;
}

const NO_FEATURE: StepFeature = { feature: null, kept: false };

/**
 * The model call of a step, into the run's logits. A full step runs the base model on the token grid (the
 * doubled batch where the step is guided) and hands the feature to the predictor. A skipped step asks the
 * predictor for a feature and runs the head on it: `guidedHead` (B guided rows) when the backend offers it and
 * the run allows, else `head` on every row; a predictor that predicts nothing leaves the logits as they are.
 */
export class ModelCall {
  readonly #rowTokens: Int32Array;
  readonly #control: ControlBuffers;
  /** The skipped step as the predictor sees it: one object for the run, its control built on demand. */
  readonly #skipped: { step: number; lastRevealed: number; control: () => VelocityControl };

  constructor(
    private readonly backend: Backend,
    private readonly calls: BackendCalls,
    private readonly arena: FeatureArena,
    private readonly predictor: PredictorSession,
    private readonly logits: LogitsBuffer,
    private readonly grid: TokenGrid,
    maxRows: number,
    /** Skipped steps of [2B] features run `guidedHead` (guided run, `guidedHead` option, capable backend). */
    private readonly headGuides: boolean,
  ) {
    this.#rowTokens = new Int32Array(maxRows * grid.tokens);
    // The control holds at most what one step reveals (the grid's reveal buffers are sized for the largest step).
    this.#control = new ControlBuffers(grid.batch, maxRows, grid.revealedPositions.length / grid.batch);
    this.#skipped = {
      step: 0,
      lastRevealed: 0,
      control: () => this.#control.build(grid.revealedPositions, grid.revealedTokens, grid.lastRevealed, grid.masked / grid.tokens, predictor.rows),
    };
  }

  /** A full step: the base model on `rows` rows of the grid (the grid repeated for the guidance rows). */
  async full(step: number, rows: number, conditions: RowConditions): Promise<StepFeature> {
    const { grid, logits } = this;
    this.predictor.beginFull(rows);
    this.#rowTokens.set(grid.state);
    if (rows === 2 * grid.batch) this.#rowTokens.set(grid.state, grid.batch * grid.tokens);
    const input = { tokens: this.#rowTokens.subarray(0, rows * grid.tokens), ...conditions.fields(rows), rows, logits: logits.target(rows) };
    const feature = this.arena.hold(await this.calls.call('forward', () => this.backend.forward(input)));
    logits.wroteRaw(rows);
    return { feature, kept: this.predictor.full(step, feature) };
  }

  /** A skipped step guided at `weight`: the predictor's feature through the head, or the logits kept. */
  async skipped(step: number, weight: number): Promise<StepFeature> {
    this.#skipped.step = step;
    this.#skipped.lastRevealed = this.grid.lastRevealed;
    const p = await this.predictor.skipped(this.#skipped);
    if (p !== null) {
      await this.#head(p.feature, weight);
      return p;
    }
    const applied = this.logits.appliedWeight;
    if (applied !== null && applied !== weight) {
      // The buffer holds logits guided at another step's weight (after a step that revealed nothing): guide again.
      const latest = this.predictor.latest();
      if (latest !== null) await this.#head(latest, weight);
    }
    return NO_FEATURE;
  }

  /** The head of a skipped step's feature into the logits, guided there when the backend can. */
  async #head(f: FeatureTensor, weight: number): Promise<void> {
    const { backend, logits } = this;
    const rows = f.dims[0];
    if (this.headGuides && rows === 2 * this.grid.batch) {
      await this.calls.call('head', () => backend.guidedHead!(f, weight, logits.target(this.grid.batch)));
      logits.wroteGuided(weight, rows);
    } else {
      await this.calls.call('head', () => backend.head(f, logits.target(rows)));
      logits.wroteRaw(rows);
    }
  }
}
