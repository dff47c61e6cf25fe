import { describe, expect, it } from 'vitest';
import { isMigmError } from '../../src/errors.js';
import type { FeatureEvent, StepEvent } from '../../src/generate/events.js';
import { BackendCalls } from '../../src/loop/backend-calls.js';
import { handOverFeature, StepReporter } from '../../src/loop/step-events.js';
import { TokenGrid } from '../../src/loop/token-grid.js';
import { FeatureArena } from '../../src/predictors/arena.js';
import { TestBackend } from '../../src/testing/test-backend.js';

async function held(rows: number) {
  const be = new TestBackend();
  const arena = new FeatureArena(be);
  const feature = arena.hold(
    await be.forward({ tokens: new Int32Array(rows * 16).fill(8), classes: new Int32Array(rows), rows, logits: new Float32Array(rows * 16 * 8) }),
  );
  return { be, arena, feature };
}

describe('handOverFeature', () => {
  it('without a listener: a feature nobody keeps goes at once, a kept one stays', async () => {
    const { be, arena, feature } = await held(2);
    await handOverFeature(arena, 0, 'full', { feature, kept: true }, 2, undefined, undefined);
    expect(be.live.size).toBe(1);
    await handOverFeature(arena, 0, 'full', { feature, kept: false }, 2, undefined, undefined);
    expect(be.live.size).toBe(0);
    await handOverFeature(arena, 1, 'skipped', { feature: null, kept: false }, 2, undefined, undefined);
  });

  it('onFeature sees the live feature (guided when it has 2B rows) before it is dropped', async () => {
    const { be, arena, feature } = await held(4);
    const events: (Omit<FeatureEvent, 'feature'> & { data: number })[] = [];
    await handOverFeature(
      arena,
      3,
      'skipped',
      { feature, kept: false },
      2,
      async (e) => {
        events.push({ step: e.step, kind: e.kind, guided: e.guided, batch: e.batch, data: (await be.readFeature(e.feature!)).length });
      },
      undefined,
    );
    expect(events).toEqual([{ step: 3, kind: 'skipped', guided: true, batch: 2, data: 4 * 16 * 6 }]);
    expect(be.live.size).toBe(0);
    const nulls: FeatureEvent[] = [];
    await handOverFeature(arena, 4, 'skipped', { feature: null, kept: false }, 2, (e) => void nulls.push(e), undefined);
    expect(nulls[0]).toMatchObject({ feature: null, guided: false });
  });

  it('an abort raised by the listener ends the run at once (the run releases the feature with its arena)', async () => {
    const { be, arena, feature } = await held(2);
    const controller = new AbortController();
    const run = handOverFeature(arena, 0, 'full', { feature, kept: false }, 2, () => controller.abort(), controller.signal);
    await expect(run).rejects.toSatisfy((e) => isMigmError(e) && e.code === 'ABORTED');
    expect(be.live.size).toBe(1);
    arena.releaseAll();
    expect(be.live.size).toBe(0);
  });
});

describe('StepReporter', () => {
  it('records the trace row and emits onStep with live views of the grid and of the step s reveal', async () => {
    const events: StepEvent[] = [];
    const reporter = new StepReporter(8, 0, (e) => events.push(e));
    const grid = new TokenGrid(2, 4, 9, 2);
    grid.revealedPositions.set([1, 3, 0, 2]);
    grid.revealedTokens.set([5, 6, 7, 8]);
    grid.commitRevealed(2);
    const calls = new BackendCalls(new TestBackend(), undefined);
    await calls.call('forward', async () => undefined);
    reporter.step(0, 'full', grid, 1.5, calls, 0);
    expect(reporter.trace).toHaveLength(1);
    const t = reporter.trace[0]!;
    expect(t).toMatchObject({ step: 0, kind: 'full', revealed: 2, masked: 2, guidance: 1.5, backendCalls: 1 });
    expect(t.coreMs + t.backendMs).toBeGreaterThanOrEqual(t.backendMs);
    const e = events[0]!;
    expect(e).toMatchObject({ type: 'step', step: 0, steps: 8, kind: 'full', revealed: 2, masked: 2, batch: 2 });
    expect(e.tokens).toBe(grid.state);
    expect(Array.from(e.revealedPositions)).toEqual([1, 3, 0, 2]);
    expect(Array.from(e.revealedTokens)).toEqual([5, 6, 7, 8]);
    expect(e.revealedPositions.buffer).toBe(grid.revealedPositions.buffer);
    expect(e.elapsedMs).toBeGreaterThan(0);
    // No listener: the trace is still kept.
    const quiet = new StepReporter(8, 0, undefined);
    quiet.step(1, 'skipped', grid, 0, calls, 0);
    expect(quiet.trace[0]).toMatchObject({ step: 1, kind: 'skipped', guidance: 0 });
  });
});
