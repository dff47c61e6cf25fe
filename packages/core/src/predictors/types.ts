import type { Backend, FeatureTensor, VelocityControl } from '../backend/types.js';
import type { FeatureArena } from './arena.js';

/** The kinds of backend call the loop counts and times. */
export type CallKind = 'forward' | 'head' | 'velocity' | 'combine';

/** What a predictor gets for one run: the backend, the run's options it may read, the arena and the loop's call. */
export interface PredictorEnv {
  readonly backend: Backend;
  /** Taylor order of the run (1 or 2; methods that extrapolate read it). */
  readonly taylorOrder: 1 | 2;
  /** Every feature the predictor keeps is held here; the loop releases all of it when the run ends or aborts. */
  readonly arena: FeatureArena;
  /** The loop's backend call: counts it, times it, and releases a feature that arrives after an abort. */
  call<T>(kind: CallKind, fn: () => Promise<T>): Promise<T>;
}

/** A skipped step as the predictor sees it. */
export interface SkippedStep {
  readonly step: number;
  /** Tokens each image revealed at the previous step (0 when it revealed none: the token state did not change). */
  readonly lastRevealed: number;
  /** The shortcut's control for the previous step's reveal (built on demand). */
  control(): VelocityControl;
}

/** A predicted feature for a skipped step; `kept` says whether the predictor keeps owning it after the step. */
export interface Prediction {
  readonly feature: FeatureTensor;
  readonly kept: boolean;
}

/** One run of a predictor: owns its state and its features (through the arena) for that run only. */
export interface PredictorRun {
  /**
   * A full step ran the base model and produced `feature` (already held by the arena). Returns true when the
   * predictor keeps it (it then drops it itself); false lets the loop drop it after the step.
   */
  full(step: number, feature: FeatureTensor): boolean;
  /** What fills a skipped step: a feature for the head, or null to keep the logits the buffer already holds. */
  skipped(step: SkippedStep): Promise<Prediction | null>;
  /** The feature whose logits the buffer holds when `skipped` returned null (re-guided at a new weight), or null. */
  latest(): FeatureTensor | null;
}

/**
 * A skipped-step method: one file in this folder and one entry in the registry. The loop walks the plan and
 * owns the model calls' order; a predictor only answers what fills each skipped step.
 */
export interface PredictorDefinition {
  /** The one name of the method, used by generate(), the CLI, the bench, the demo and the docs. */
  readonly name: string;
  /** A short name for menus (the web demo's method list). */
  readonly label: string;
  /** One line for help texts and docs. */
  readonly summary: string;
  /** Needs the backend's learned shortcut (`velocity`). */
  readonly needsVelocity: boolean;
  /** Skips steps (budget and plan apply); false for vanilla, which runs every step. */
  readonly accelerated: boolean;
  /**
   * How many full steps' features a skipped step combines: 1 for a method that predicts from the last full step
   * only (or from nothing), k + 1 for an order-k extrapolation. The guidance cutoff keeps both branches at a full
   * step while any step of the segments it feeds (its own and those of the next `fullStepHistory - 1` full steps)
   * needs them, so features of one row count are combined; the run starts over where the row count changes.
   */
  fullStepHistory(taylorOrder: number): number;
  create(env: PredictorEnv): PredictorRun;
}

/** Declares a predictor, keeping its name as a literal type (so the registry can list the names as a union). */
export function definePredictor<const N extends string>(definition: PredictorDefinition & { readonly name: N }): PredictorDefinition & { readonly name: N } {
  return definition;
}

/** The run of a method that predicts nothing: full-step features are not kept and skipped steps keep the logits. */
export function predictsNothing(): PredictorRun {
  return { full: () => false, skipped: async () => null, latest: () => null };
}
