import { describe, expect, it } from 'vitest';
import type { ForwardInput } from '../../src/backend/types.js';
import { BackendCalls } from '../../src/loop/backend-calls.js';
import { LogitsBuffer } from '../../src/loop/logits-buffer.js';
import { ModelCall } from '../../src/loop/model-call.js';
import { PredictorSession } from '../../src/loop/predictor-session.js';
import { classRows } from '../../src/loop/row-conditions.js';
import { TokenGrid } from '../../src/loop/token-grid.js';
import { FeatureArena } from '../../src/predictors/arena.js';
import { predictorDefinition } from '../../src/predictors/registry.js';
import { TestBackend } from '../../src/testing/test-backend.js';

const B = 2;
const L = 16;
const K = 8;

/** One run's model call on the test backend, with the forward inputs recorded. */
function setup(predictor: string, headGuides: boolean) {
  const be = new TestBackend();
  const inputs: ForwardInput[] = [];
  const forward = be.forward.bind(be);
  be.forward = (input) => (inputs.push(input), forward(input));
  const calls = new BackendCalls(be, undefined);
  const arena = new FeatureArena(be);
  const session = new PredictorSession(predictorDefinition(predictor)!, { backend: be, taylorOrder: 1, arena, call: calls.call });
  const logits = new LogitsBuffer(be, B, 2 * B, L * K, false);
  const grid = new TokenGrid(B, L, be.manifest.tokens.maskId, 4);
  const model = new ModelCall(be, calls, arena, session, logits, grid, 2 * B, headGuides);
  const conditions = classRows(Int32Array.of(0, 2), be.manifest, 2 * B, true);
  return { be, inputs, calls, arena, logits, grid, model, conditions };
}

/** Pretends the last step revealed position 0 of each image as token 1 (what the shortcut's control reads). */
function revealOne(grid: TokenGrid): void {
  grid.revealedPositions.set([0, 0]);
  grid.revealedTokens.set([1, 1]);
  grid.commitRevealed(1);
}

describe('ModelCall', () => {
  it('a full step runs the base model on the grid, repeated for the guidance rows, with each row s condition', async () => {
    const { be, inputs, model, conditions, grid, logits } = setup('shortcut', true);
    grid.state[3] = 5;
    const fed = await model.full(0, 2 * B, conditions);
    expect(inputs[0]!.rows).toBe(4);
    expect(Array.from(inputs[0]!.classes!)).toEqual([0, 2, 3, 3]);
    expect(Array.from(inputs[0]!.tokens)).toEqual([...grid.state, ...grid.state]);
    expect(fed.kept).toBe(true); // the shortcut chains from it
    expect(fed.feature?.dims[0]).toBe(4);
    expect(logits.guideAtSampling).toBe(true);
    // Under the guidance cutoff: the conditional rows alone.
    await model.full(1, B, conditions);
    expect(inputs[1]!.rows).toBe(2);
    expect(Array.from(inputs[1]!.classes!)).toEqual([0, 2]);
    expect(logits.guideAtSampling).toBe(false);
    expect(be.counts.forward).toBe(2);
  });

  it('a skipped step: the predicted feature through guidedHead (B rows) when the run allows, else head on every row', async () => {
    for (const headGuides of [true, false]) {
      const { be, model, conditions, grid, logits } = setup('shortcut', headGuides);
      await model.full(0, 2 * B, conditions);
      revealOne(grid);
      const fed = await model.skipped(1, 1.25);
      expect(fed.feature?.dims[0]).toBe(4);
      expect(be.counts).toMatchObject({ velocity: 1, combine: 1, head: 1, headRows: headGuides ? B : 2 * B });
      expect(logits.appliedWeight).toBe(headGuides ? 1.25 : null);
      expect(logits.guideAtSampling).toBe(!headGuides);
    }
  });

  it('a predictor that predicts nothing keeps the logits, or guides its latest feature again at a new weight', async () => {
    const reuse = setup('reuse', true);
    await reuse.model.full(0, 2 * B, reuse.conditions);
    expect(await reuse.model.skipped(1, 2)).toEqual({ feature: null, kept: false });
    expect(reuse.be.counts.head).toBe(0);

    // The shortcut predicts nothing after a step that revealed nothing; its logits were guided at 1.25.
    const s = setup('shortcut', true);
    await s.model.full(0, 2 * B, s.conditions);
    revealOne(s.grid);
    await s.model.skipped(1, 1.25);
    s.grid.commitRevealed(0);
    expect((await s.model.skipped(2, 1.25)).feature).toBeNull();
    expect(s.be.counts.head).toBe(1); // same weight: nothing to redo
    await s.model.skipped(3, 1.5);
    expect(s.be.counts.head).toBe(2); // new weight: the latest feature guided again
    expect(s.logits.appliedWeight).toBe(1.5);
    expect(s.be.counts.velocity).toBe(1);
  });

  it('the control the shortcut gets: the last reveal for every row and the mask ratio after it', async () => {
    const { be, model, conditions, grid } = setup('shortcut', true);
    const seen: { n: number; ratio: number[]; tokens: number[] }[] = [];
    const velocity = be.velocity.bind(be);
    be.velocity = (f, c) => (seen.push({ n: c.count, ratio: Array.from(c.ratio), tokens: Array.from(c.tokens) }), velocity(f, c));
    await model.full(0, 2 * B, conditions);
    revealOne(grid);
    await model.skipped(1, 1);
    expect(seen).toEqual([{ n: 1, ratio: [15 / 16, 15 / 16, 15 / 16, 15 / 16], tokens: [1, 1, 1, 1] }]);
  });
});
