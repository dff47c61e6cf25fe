import type { FeatureTensor } from '../backend/types.js';

/** Whether a step ran the base model ('full') or was filled by a predictor ('skipped'). */
export type StepKind = 'full' | 'skipped';

/** Progress event passed to `onStep` after each step. */
export interface StepEvent {
  readonly type: 'step';
  /** 0-based step index. */
  readonly step: number;
  /** Total steps N. */
  readonly steps: number;
  readonly kind: StepKind;
  /** Tokens committed per image at this step. */
  readonly revealed: number;
  /** Tokens still masked per image after this step. */
  readonly masked: number;
  /**
   * The current token grid [batch, L] (masked positions hold the mask id), for previews. A live view: copy it
   * if you keep it past the callback.
   */
  readonly tokens: Int32Array;
  readonly batch: number;
  /** Positions committed at this step [batch, revealed], ascending per image. A live view, like `tokens`. */
  readonly revealedPositions: Int32Array;
  /** Token ids committed at this step [batch, revealed]. A live view. */
  readonly revealedTokens: Int32Array;
  /** Milliseconds since generate() started. */
  readonly elapsedMs: number;
}

/**
 * Passed to `onFeature` once a step's feature is known, before sampling: the base model's feature on full
 * steps, the predicted one on skipped steps (null where the predictor made none: `reuse`, and `taylor` before
 * its second full step). The tensor is only valid during the call (await `backend.readFeature` inside it).
 */
export interface FeatureEvent {
  readonly step: number;
  readonly kind: StepKind;
  /** [rows, L, D]; rows are [cond; uncond] when `guided`. */
  readonly feature: FeatureTensor | null;
  readonly guided: boolean;
  readonly batch: number;
}

/** One row of the per-step trace. */
export interface StepTrace {
  readonly step: number;
  readonly kind: StepKind;
  readonly revealed: number;
  readonly masked: number;
  /** Guidance weight used at this step. */
  readonly guidance: number;
  /** Backend calls made at this step (forward, head, velocity, combine). */
  readonly backendCalls: number;
  /** Time awaiting the backend at this step, ms. */
  readonly backendMs: number;
  /** Time in core (guidance, softmax, draws, selection, bookkeeping) at this step, ms. */
  readonly coreMs: number;
}
