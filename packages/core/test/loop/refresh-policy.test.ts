import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/generate/options.js';
import { refreshPolicy } from '../../src/loop/refresh-policy.js';
import { AdaptiveRefresh } from '../../src/plan/adaptive-refresh.js';
import { testManifest } from '../../src/testing/test-backend.js';

const manifest = testManifest({ steps: 16 });

describe('refresh policy', () => {
  it("'plan': the fixed plan's full steps, and it never reads the sampler's signal", () => {
    const o = resolveOptions({ condition: 1, steps: 12, budget: 4, predictor: 'shortcut', seed: 1 }, manifest, true);
    const policy = refreshPolicy(o);
    let reads = 0;
    const signal = { meanCommittedLogProb: () => (reads++, -1) };
    const decided = Array.from({ length: 12 }, (_, i) => {
      const full = policy.decide(i);
      policy.observe(i, full, signal);
      return full;
    });
    expect(decided.map((f) => (f ? 1 : 0))).toEqual(Array.from(o.fullMask));
    expect(Array.from(policy.plan())).toEqual(Array.from(o.plan));
    expect(reads).toBe(0);
  });

  it("'adaptive': the same decisions as AdaptiveRefresh fed the same signal, B full steps", () => {
    const o = resolveOptions({ condition: 1, steps: 16, budget: 5, predictor: 'taylor', refresh: 'adaptive', refreshTolerance: 0.2, seed: 1 }, manifest, true);
    const policy = refreshPolicy(o);
    const reference = new AdaptiveRefresh(16, 5, 0.2);
    const signalAt = (i: number) => -1 - 0.15 * i;
    let reads = 0;
    const expected: number[] = [];
    for (let i = 0; i < 16; i++) {
      const full = policy.decide(i);
      const ref = reference.decide(i);
      expect(full, `step ${i}`).toBe(ref);
      if (ref) expected.push(i);
      policy.observe(i, full, { meanCommittedLogProb: () => (reads++, signalAt(i)) });
      reference.observe(i, ref, signalAt(i));
    }
    expect(reads).toBe(16);
    expect(Array.from(policy.plan())).toEqual(expected);
    expect(expected.length).toBe(5);
    // The moving signal pulls full steps away from the fixed plan.
    expect(expected).not.toEqual(Array.from(o.plan));
  });
});
