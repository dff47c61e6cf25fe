import { describe, expect, it } from 'vitest';
import { FeatureArena } from '../../src/predictors/arena.js';
import { definePredictor, type PredictorEnv } from '../../src/predictors/types.js';
import { PredictorSession } from '../../src/loop/predictor-session.js';
import { TestBackend } from '../../src/testing/test-backend.js';

/** A method that keeps every full-step feature and numbers its runs, so restarts can be seen. */
function keeper() {
  let runs = 0;
  const definition = definePredictor({
    name: 'keeper',
    label: 'Keeper',
    summary: 'test',
    needsVelocity: false,
    accelerated: true,
    fullStepHistory: () => 1,
    create() {
      const run = ++runs;
      const seen: number[] = [];
      return {
        full: (step) => (seen.push(step), true),
        skipped: async () => null,
        latest: () => (seen.length ? ({ dims: [run, seen.length, 0] } as const) : null),
      };
    },
  });
  return { definition, runs: () => runs };
}

async function setup() {
  const be = new TestBackend();
  const arena = new FeatureArena(be);
  const env: PredictorEnv = { backend: be, taylorOrder: 1, arena, call: (_k, fn) => fn() };
  const feature = async (rows: number) =>
    arena.hold(await be.forward({ tokens: new Int32Array(rows * 16).fill(8), classes: new Int32Array(rows), rows, logits: new Float32Array(rows * 16 * 8) }));
  return { be, arena, env, feature };
}

describe('PredictorSession', () => {
  it('hands full steps and skipped steps to one run while the row count stays', async () => {
    const { be, env, feature } = await setup();
    const k = keeper();
    const s = new PredictorSession(k.definition, env);
    expect(s.rows).toBe(0);
    s.beginFull(2);
    expect(s.full(0, await feature(2))).toBe(true);
    s.beginFull(2);
    s.full(3, await feature(2));
    expect(await s.skipped({ step: 4, lastRevealed: 1, control: () => null! })).toBeNull();
    expect(s.latest()?.dims).toEqual([1, 2, 0]);
    expect(k.runs()).toBe(1);
    expect(be.live.size).toBe(2);
  });

  it('starts the method over, with an empty arena, where the guidance cutoff changes the rows', async () => {
    const { be, env, feature } = await setup();
    const k = keeper();
    const s = new PredictorSession(k.definition, env);
    s.beginFull(4);
    s.full(0, await feature(4));
    s.beginFull(2);
    expect(s.rows).toBe(2);
    expect(k.runs()).toBe(2);
    expect(be.live.size).toBe(0); // the 4-row feature went with the old run
    expect(s.latest()).toBeNull();
    s.full(2, await feature(2));
    expect(s.latest()?.dims).toEqual([2, 1, 0]);
  });
});
