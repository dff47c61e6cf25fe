import { now, type AbortSignalLike } from '../clock.js';
import { throwIfAborted } from '../errors.js';
import type { FeatureEvent, StepEvent, StepKind, StepTrace } from '../generate/events.js';
import type { FeatureArena } from '../predictors/arena.js';
import type { BackendCalls } from './backend-calls.js';
import type { StepFeature } from './model-call.js';
import type { TokenGrid } from './token-grid.js';

/**
 * Shows a step's feature to `onFeature` (awaited; an abort it raises ends the run) and then drops it unless the
 * predictor keeps it. Without a listener a feature nobody keeps goes at once.
 */
export async function handOverFeature(
  arena: FeatureArena,
  step: number,
  kind: StepKind,
  fed: StepFeature,
  batch: number,
  onFeature: ((event: FeatureEvent) => void | Promise<void>) | undefined,
  signal: AbortSignalLike | undefined,
): Promise<void> {
  const { feature, kept } = fed;
  if (!onFeature) {
    if (!kept) arena.drop(feature);
    return;
  }
  await onFeature({ step, kind, feature, guided: feature !== null && feature.dims[0] === 2 * batch, batch });
  throwIfAborted(signal);
  if (!kept) arena.drop(feature);
}

/** The per-step trace of a run and its `onStep` events, each step's timings taken from the run's backend calls. */
export class StepReporter {
  readonly trace: StepTrace[] = [];

  constructor(
    private readonly steps: number,
    private readonly start: number,
    private readonly onStep: ((event: StepEvent) => void) | undefined,
  ) {}

  /** Records step `step` (begun at `stepStart`, guided at `guidance`) after its commit, then tells `onStep`. */
  step(step: number, kind: StepKind, grid: TokenGrid, guidance: number, calls: BackendCalls, stepStart: number): void {
    const stepMs = now() - stepStart;
    const { lastRevealed: revealed, masked, batch } = grid;
    this.trace.push({
      step,
      kind,
      revealed,
      masked,
      guidance,
      backendCalls: calls.stepCalls,
      backendMs: calls.stepBackendMs,
      coreMs: stepMs - calls.stepBackendMs,
    });
    this.onStep?.({
      type: 'step',
      step,
      steps: this.steps,
      kind,
      revealed,
      masked,
      tokens: grid.state,
      batch,
      revealedPositions: grid.positions(),
      revealedTokens: grid.ids(),
      elapsedMs: now() - this.start,
    });
  }
}
