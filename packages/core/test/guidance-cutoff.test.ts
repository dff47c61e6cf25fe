import { describe, expect, it } from 'vitest';
import { generate } from '../src/generate/generate.js';
import { isMigmError } from '../src/errors.js';
import { TestBackend } from '../src/testing/test-backend.js';
import { PREDICTORS } from '../src/predictors/registry.js';
import { unconditionalSteps } from '../src/guidance/guidance-interval.js';
import { planMask, fullStepPlan } from '../src/plan/full-step-plan.js';

const w = (...v: number[]) => Float64Array.from(v);
const m = (...v: number[]) => Uint8Array.from(v);

describe('unconditionalSteps', () => {
  it('vanilla: exactly the steps whose weight is above the cutoff', () => {
    expect(Array.from(unconditionalSteps(w(0, 1, 2, 3), m(1, 1, 1, 1), 0))).toEqual([0, 1, 1, 1]);
    expect(Array.from(unconditionalSteps(w(0, 1, 2, 3), m(1, 1, 1, 1), 1.5))).toEqual([0, 0, 1, 1]);
    expect(Array.from(unconditionalSteps(w(0, 1, 2, 3), m(1, 1, 1, 1), null))).toEqual([1, 1, 1, 1]);
  });
  it('a full step keeps both branches when a skipped step it feeds needs them; skipped steps follow their full step', () => {
    // plan [0, 2]: step 0 feeds step 1 (w = 1 > 0)
    expect(Array.from(unconditionalSteps(w(0, 1, 2, 3), m(1, 0, 1, 0), 0))).toEqual([1, 1, 1, 1]);
    expect(Array.from(unconditionalSteps(w(0, 1, 2, 3), m(1, 0, 1, 0), 1))).toEqual([0, 0, 1, 1]);
    // plan [0, 1, 3]: step 0 alone in its segment
    expect(Array.from(unconditionalSteps(w(0, 1, 2, 3), m(1, 1, 0, 1), 0))).toEqual([0, 1, 1, 1]);
  });
  it('an extrapolating predictor: a full step keeps both branches while the segments of its next history - 1 full steps need them, and stays on both', () => {
    // plan [0, 2, 4, 6], weights rising 0..7, cutoff 2.5: segments 0 (w 0, 1) and 1 (w 2, 3) -> need [0, 1, 1, 1]
    const weights = w(0, 1, 2, 3, 4, 5, 6, 7);
    const plan = m(1, 0, 1, 0, 1, 0, 1, 0);
    expect(Array.from(unconditionalSteps(weights, plan, 2.5, 1))).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
    // history 2: full step 0 also feeds segment 1's skipped step through the extrapolation
    expect(Array.from(unconditionalSteps(weights, plan, 2.5, 2))).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    // cutoff 4.5: need [0, 0, 1, 1]; history 2 -> full steps 1, 2, 3; history 3 -> all
    expect(Array.from(unconditionalSteps(weights, plan, 4.5, 2))).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(unconditionalSteps(weights, plan, 4.5, 3))).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(unconditionalSteps(w(0, 0, 0, 0), m(1, 1, 0, 1), 0, 2))).toEqual([0, 0, 0, 0]);
  });
  it('falling weights: a history-1 predictor goes back to the conditional rows, an extrapolating one stays on both', () => {
    const weights = w(3, 2, 1, 0, 0, 0);
    const plan = m(1, 0, 1, 0, 1, 0);
    expect(Array.from(unconditionalSteps(weights, plan, 0, 1))).toEqual([1, 1, 1, 1, 0, 0]);
    expect(Array.from(unconditionalSteps(weights, plan, 0, 2))).toEqual([1, 1, 1, 1, 1, 1]);
    expect(() => unconditionalSteps(weights, plan, 0, 0)).toThrow(/history must be an integer >= 1/);
  });
});

describe('generate() guidanceCutoff', () => {
  it('the default cutoff 0 changes no token for any predictor and plan (only unread rows go)', async () => {
    for (const predictor of PREDICTORS) {
      for (const budget of [3, 7]) {
        // budget 7 of 9 gives plan [0, 1, ...]: step 0 is alone in its segment.
        const opts = { condition: [0, 1] as const, steps: 9, predictor, seed: 11, ...(predictor === 'vanilla' ? {} : { budget }) };
        const off = new TestBackend();
        const a = await generate(off, { ...opts, guidanceCutoff: false });
        const on = new TestBackend();
        const b = await generate(on, opts);
        expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
        expect(on.counts.forwardRows).toBeLessThanOrEqual(off.counts.forwardRows);
        expect(on.live.size).toBe(0);
      }
    }
  });

  it('saves the unconditional forward of vanilla step 0, and of shortcut step 0 when it feeds no guided step', async () => {
    const van = new TestBackend();
    await generate(van, { condition: [0, 1], steps: 8, predictor: 'vanilla', seed: 1 });
    expect(van.counts.forwardRows).toBe(8 * 4 - 2);
    const plan = Array.from(fullStepPlan(9, 7));
    expect(plan.slice(0, 2)).toEqual([0, 1]);
    const sc = new TestBackend();
    await generate(sc, { condition: [0, 1], steps: 9, predictor: 'shortcut', budget: 7, seed: 1 });
    expect(sc.counts.forwardRows).toBe(7 * 4 - 2);
    void planMask;
  });

  it('a larger cutoff runs the early steps conditional only, restarts the predictor at the switch, and leaks nothing', async () => {
    const expected = { shortcut: [2, 2, 4, 4], reuse: [2, 2, 4, 4], taylor: [2, 4, 4, 4], 'shortcut-taylor': [2, 4, 4, 4], adams: [4, 4, 4, 4] } as const;
    for (const predictor of ['shortcut', 'reuse', 'taylor', 'shortcut-taylor', 'adams'] as const) {
      const be = new TestBackend();
      const seen: number[] = [];
      const fullRows: number[] = [];
      const r = await generate(be, {
        condition: [0, 1],
        steps: 8,
        budget: 4,
        predictor,
        guidance: { scale: 3, schedule: 'linear' },
        guidanceCutoff: 1.5,
        seed: 3,
        onFeature: (e) => {
          if (e.feature) seen.push(e.feature.dims[0]);
          if (e.feature && e.kind === 'full') fullRows.push(e.feature.dims[0]);
        },
      });
      // plan [0, 2, 4, 6]; weights 0, .43, .86, 1.29, 1.71, ...: segments 0 and 1 need no unconditional branch;
      // taylor's (and shortcut-taylor's) step 2 also feeds segment 2 (w 1.71 > 1.5) through the extrapolation, so
      // only their segment 0 is conditional only; adams combines three full steps, so step 0 feeds segment 2 too.
      expect(fullRows, predictor).toEqual(expected[predictor]);
      expect(seen[seen.length - 1]).toBe(4);
      expect(r.trace[0]!.guidance).toBe(0);
      expect(be.live.size).toBe(0);
    }
  });

  it('a cutoff above every weight turns guidance off; bad cutoffs are refused', async () => {
    const be = new TestBackend();
    const r = await generate(be, { condition: [0, 1], steps: 6, predictor: 'vanilla', guidance: 2, guidanceCutoff: 5, seed: 1 });
    expect(be.counts.forwardRows).toBe(6 * 2);
    const again = await generate(new TestBackend(), { condition: [0, 1], steps: 6, predictor: 'vanilla', guidance: 0, seed: 1 });
    expect(Array.from(r.tokens)).toEqual(Array.from(again.tokens));
    for (const bad of [-1, NaN, 1001, 'x', true]) {
      try {
        await generate(be, { guidanceCutoff: bad as never, seed: 1 });
        expect.unreachable();
      } catch (e) {
        expect(isMigmError(e) && e.code === 'INVALID_OPTION' && /guidanceCutoff.*a number from 0 to 1000, or false/.test(e.message)).toBe(true);
      }
    }
  });
});
