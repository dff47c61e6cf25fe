import { describe, expect, it } from 'vitest';
import { adamsBashforthCoefficients, taylorCoefficients } from '../src/sampling.js';
import { generate, LEGACY_PREDICTOR_NAMES, PREDICTOR_REGISTRY, PREDICTORS, predictorDefinition } from '../src/index.js';
import { TestBackend } from '../src/testing/index.js';

describe('the predictor registry', () => {
  it('lists each method once, by the name generate() takes, with its needs', () => {
    expect(new Set(PREDICTORS).size).toBe(PREDICTORS.length);
    expect(PREDICTORS).toEqual(['vanilla', 'shortcut', 'reuse', 'taylor', 'shortcut-taylor', 'adams']);
    expect(PREDICTOR_REGISTRY.filter((p) => p.needsVelocity).map((p) => p.name)).toEqual(['shortcut', 'shortcut-taylor']);
    expect(PREDICTOR_REGISTRY.filter((p) => !p.accelerated).map((p) => p.name)).toEqual(['vanilla']);
    for (const p of PREDICTOR_REGISTRY) expect(p.summary.length).toBeGreaterThan(10);
    expect(predictorDefinition('nope')).toBeUndefined();
  });
  it("the first releases' names still run, and answer with the method's one name", async () => {
    for (const [legacy, name] of Object.entries(LEGACY_PREDICTOR_NAMES)) {
      expect(predictorDefinition(legacy)?.name).toBe(name);
      const a = await generate(new TestBackend(), { predictor: legacy as never, condition: 1, steps: 6, seed: 3 });
      const b = await generate(new TestBackend(), { predictor: name, condition: 1, steps: 6, seed: 3 });
      expect(a.predictor).toBe(name);
      expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
    }
  });
  it('an unknown predictor is refused with the list read from the registry', async () => {
    await expect(generate(new TestBackend(), { predictor: 'magic' as never })).rejects.toThrow(`allowed: ${PREDICTORS.join(', ')}`);
  });
});

describe("predictor 'adams' (two-step Adams-Bashforth over full-step features)", () => {
  it('has the classic AB2 weights at equal spacing and one step ahead (f2 + h (3/2 v2 - 1/2 v1))', () => {
    // f2 + (3/2)(f2 - f1) - (1/2)(f1 - f0) = 5/2 f2 - 2 f1 + 1/2 f0
    const c = adamsBashforthCoefficients(0, 1, 2, 3);
    expect(c[0]).toBeCloseTo(0.5, 12);
    expect(c[1]).toBeCloseTo(-2, 12);
    expect(c[2]).toBeCloseTo(2.5, 12);
  });
  it('is exact on linear trajectories, reproduces them at its last full step, and damps the quadratic term', () => {
    const steps = [0, 2, 5];
    for (const target of [5, 6, 7.5, 9]) {
      const c = adamsBashforthCoefficients(steps[0]!, steps[1]!, steps[2]!, target);
      expect(c[0] + c[1] + c[2]).toBeCloseTo(1, 12); // constants are kept
      expect(c[0] * 0 + c[1] * 2 + c[2] * 5).toBeCloseTo(target, 12); // lines are exact
    }
    expect(adamsBashforthCoefficients(0, 2, 5, 5)).toEqual([0, -0, 1]);
    // On t^2 Taylor order 2 is exact; AB2 with node velocities lands between first-order Taylor and it.
    const t = 8;
    const ab = adamsBashforthCoefficients(0, 2, 5, t).reduce((a, c, j) => a + c * [0, 4, 25][j]!, 0);
    const quad = Array.from(taylorCoefficients([0, 2, 5], t)).reduce((a, c, j) => a + c * [0, 4, 25][j]!, 0);
    const linear = Array.from(taylorCoefficients([2, 5], t)).reduce((a, c, j) => a + c * [4, 25][j]!, 0);
    expect(quad).toBeCloseTo(64, 9);
    expect(ab).toBeGreaterThan(linear);
    expect(ab).toBeLessThan(quad);
  });
  it('calls the base model only at full steps, combines at every skipped step after the second, and leaks nothing', async () => {
    const b = new TestBackend();
    const r = await generate(b, { condition: [1, null], steps: 10, budget: 4, predictor: 'adams', seed: 3 });
    const plan = Array.from(r.plan);
    expect(r.calls.forward).toBe(4);
    expect(r.calls.velocity).toBe(0);
    const skippedAfterSecond = Array.from({ length: 10 }, (_, i) => i).filter((i) => !plan.includes(i) && i > plan[1]!).length;
    expect(r.calls.combine).toBe(skippedAfterSecond);
    expect(b.live.size).toBe(0);
    // Same seed, same tokens.
    expect(Array.from((await generate(b, { condition: [1, null], steps: 10, budget: 4, predictor: 'adams', seed: 3 })).tokens)).toEqual(Array.from(r.tokens));
  });
  it('needs no shortcut model', async () => {
    const r = await generate(new TestBackend({ shortcut: false }), { steps: 6, budget: 3, predictor: 'adams', seed: 1 });
    expect(r.predictor).toBe('adams');
  });
});
