import { describe, expect, it } from 'vitest';
import { AdaptiveRefresh } from '../src/plan/adaptive-refresh.js';
import { generate } from '../src/generate/generate.js';
import { isMigmError } from '../src/errors.js';
import { TestBackend } from '../src/testing/test-backend.js';
import { PREDICTOR_REGISTRY } from '../src/predictors/registry.js';
import { RandomStreams } from '../src/random/prng.js';

function walk(N: number, B: number, tol: number, signal: (i: number) => number): number[] {
  const p = new AdaptiveRefresh(N, B, tol);
  const full: number[] = [];
  for (let i = 0; i < N; i++) {
    const f = p.decide(i);
    if (f) full.push(i);
    p.observe(i, f, signal(i));
  }
  return full;
}

describe('AdaptiveRefresh', () => {
  it('always spends exactly the budget, starting at step 0, whatever the signal', () => {
    const rng = new RandomStreams(1, 1);
    for (const [N, B] of [
      [16, 5],
      [32, 12],
      [8, 8],
      [8, 1],
      [16, 2],
      [64, 7],
    ] as const) {
      for (const tol of [0, 0.1, 0.5, 1e9]) {
        const full = walk(N, B, tol, () => -2 * rng.uniform(0));
        expect(full.length, `N=${N} B=${B} tol=${tol}`).toBe(B);
        expect(full[0]).toBe(0);
      }
    }
  });
  it('refreshes early when the signal moves and late when it does not', () => {
    const calm = walk(32, 6, 0.25, () => -1);
    const moving = walk(32, 6, 0.25, (i) => -1 - 0.3 * i);
    // A steady signal waits for the spacing cap; a drifting one refreshes at the shortest allowed gap.
    expect(calm[1]! - calm[0]!).toBeGreaterThan(moving[1]! - moving[0]!);
    expect(new Set(calm).size).toBe(6);
  });
});

describe("generate() with refresh 'adaptive'", () => {
  it('runs exactly B full steps for every accelerated predictor, reports where, and leaks nothing', async () => {
    for (const { name: predictor } of PREDICTOR_REGISTRY.filter((p) => p.accelerated)) {
      const be = new TestBackend();
      const r = await generate(be, { condition: [0, 1], steps: 12, budget: 4, predictor, refresh: 'adaptive', seed: 5 });
      expect(r.plan.length).toBe(4);
      expect(r.plan[0]).toBe(0);
      expect(r.calls.forward).toBe(4);
      expect(r.trace.filter((t) => t.kind === 'full').map((t) => t.step)).toEqual(Array.from(r.plan));
      expect(be.live.size).toBe(0);
      const again = await generate(new TestBackend(), { condition: [0, 1], steps: 12, budget: 4, predictor, refresh: 'adaptive', seed: 5 });
      expect(Array.from(again.tokens)).toEqual(Array.from(r.tokens));
    }
  });
  it('samples on the host with the reason; refuses vanilla, a plan, and bad tolerances', async () => {
    const be = new TestBackend({ deviceSampling: true });
    const r = await generate(be, { condition: 0, steps: 8, budget: 3, predictor: 'shortcut', refresh: 'adaptive', seed: 1 });
    expect(r.sampler.device).toBe(false);
    expect(r.sampler.reason).toMatch(/adaptive/);
    const code = async (o: object) => {
      try {
        await generate(be, { seed: 1, ...o });
      } catch (e) {
        return isMigmError(e) ? `${e.code} ${e.message}` : 'other';
      }
      return 'none';
    };
    expect(await code({ predictor: 'vanilla', refresh: 'adaptive' })).toMatch(/INVALID_OPTION.*vanilla runs every step/);
    expect(await code({ predictor: 'shortcut', refresh: 'adaptive', plan: [0, 2] })).toMatch(/give a budget, not a plan/);
    expect(await code({ predictor: 'shortcut', refresh: 'adaptive', refreshTolerance: -1 })).toMatch(/refreshTolerance/);
    expect(await code({ predictor: 'shortcut', refresh: 'sometimes' })).toMatch(/allowed: "plan", "adaptive"/);
  });
});
