import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/generate/options.js';
import { confidenceAnneal, forwardRows, stepSchedule } from '../../src/loop/step-schedule.js';
import { testManifest } from '../../src/testing/test-backend.js';

const manifest = testManifest(); // L = 16, 8 steps, guidance linear ramp to 2, r_temp 4.5

describe('step schedule', () => {
  it('anneals the confidence noise from 1 to 0 (MaskGIT) or keeps it at 1 (DiMOO)', () => {
    expect([0, 1, 2, 3, 4].map((i) => confidenceAnneal('annealed', i, 5))).toEqual([1, 0.75, 0.5, 0.25, 0]);
    expect([0, 4].map((i) => confidenceAnneal('constant', i, 5))).toEqual([1, 1]);
    // A single step is the last one: no noise when annealed.
    expect(confidenceAnneal('annealed', 0, 1)).toBe(0);
  });

  it('runs the doubled batch only at steps that need the unconditional branch', () => {
    expect(Array.from(forwardRows(Uint8Array.of(0, 1, 1, 0), 3))).toEqual([3, 6, 6, 3]);
  });

  it('is data fixed by the options: counts, weights, rows under the guidance cutoff, noise by step kind', () => {
    const o = resolveOptions(
      { condition: 1, batch: 2, steps: 8, predictor: 'vanilla', randomizeTemperature: 2, skippedRandomizeTemperature: 6, seed: 1 },
      manifest,
      true,
    );
    const s = stepSchedule(o);
    expect(s.steps).toBe(8);
    expect(Array.from(s.counts).reduce((a, b) => a + b, 0)).toBe(16);
    expect(s.maxCount).toBe(Math.max(...s.counts));
    expect(s.weights).toBe(o.weights);
    // The linear ramp's weight is 0 at step 0: the default cutoff (0) runs the conditional rows alone there.
    expect(Array.from(s.rows)).toEqual([2, 4, 4, 4, 4, 4, 4, 4]);
    for (let i = 0; i < 8; i++) {
      expect(s.fullNoise[i]).toBe(2 * (1 - i / 7));
      expect(s.skippedNoise[i]).toBe(6 * (1 - i / 7));
    }
  });

  it('guidance off: B rows everywhere; guidanceCutoff false: 2B rows everywhere', () => {
    const off = stepSchedule(resolveOptions({ condition: 1, batch: 3, guidance: 0, seed: 1 }, manifest, true));
    expect(Array.from(off.rows)).toEqual(new Array(8).fill(3));
    const both = stepSchedule(resolveOptions({ condition: 1, batch: 3, guidanceCutoff: false, seed: 1 }, manifest, true));
    expect(Array.from(both.rows)).toEqual(new Array(8).fill(6));
    // Unconditional images only: nothing to guide, so no guidance rows.
    const uncond = stepSchedule(resolveOptions({ condition: null, batch: 3, seed: 1 }, manifest, true));
    expect(Array.from(uncond.rows)).toEqual(new Array(8).fill(3));
  });
});
