import { describe, expect, it } from 'vitest';
import { generate } from '../src/generate/generate.js';
import type { StepEvent } from '../src/generate/events.js';
import { isMigmError, type MigmErrorCode } from '../src/errors.js';
import { TestBackend } from '../src/testing/test-backend.js';
import { fullStepPlan } from '../src/plan/full-step-plan.js';
import { resolveOptions } from '../src/generate/options.js';

async function codeOf(p: Promise<unknown>): Promise<MigmErrorCode | 'none' | 'not-migm'> {
  try {
    await p;
  } catch (e) {
    return isMigmError(e) ? e.code : 'not-migm';
  }
  return 'none';
}

describe('generate() call counts', () => {
  const N = 8;
  const B = 3; // fullStepPlan(8, 3) = [0, 3, 5]
  it('vanilla runs the base model at every step and nothing else', async () => {
    const be = new TestBackend();
    const r = await generate(be, { condition: 1, batch: 2, steps: N, predictor: 'vanilla', seed: 1 });
    expect(be.counts).toMatchObject({ forward: N, head: 0, velocity: 0, combine: 0 });
    // Guided: [cond; uncond] doubles the rows, except at step 0 whose weight is 0 under the linear ramp.
    expect(be.counts.forwardRows).toBe(N * 4 - 2);
    expect(r.calls).toEqual({ forward: N, head: 0, velocity: 0, combine: 0, sample: 0, encode: 0 });
    expect(r.trace.every((t) => t.kind === 'full')).toBe(true);
    expect(be.live.size).toBe(0);
  });

  it('learned: B base steps; each skipped step is one velocity, one combine, one head', async () => {
    const be = new TestBackend();
    const r = await generate(be, { condition: 0, steps: N, budget: B, predictor: 'shortcut', seed: 1 });
    expect(Array.from(r.plan)).toEqual(Array.from(fullStepPlan(N, B)));
    expect(be.counts).toMatchObject({ forward: B, velocity: N - B, combine: N - B, head: N - B });
    expect(r.trace.map((t) => t.kind)).toEqual(['full', 'skipped', 'skipped', 'full', 'skipped', 'full', 'skipped', 'skipped']);
    expect(be.live.size).toBe(0);
  });

  it('reuse: B base steps and no other model call', async () => {
    const be = new TestBackend();
    await generate(be, { condition: 0, steps: N, budget: B, predictor: 'reuse', seed: 1 });
    expect(be.counts).toMatchObject({ forward: B, velocity: 0, combine: 0, head: 0 });
    expect(be.live.size).toBe(0);
  });

  it('taylor: reuse until two full steps exist, then one combine + head per skipped step', async () => {
    const be = new TestBackend();
    await generate(be, { condition: 0, steps: N, budget: B, predictor: 'taylor', seed: 1 });
    // skipped steps 1, 2 come before the second full step (3): no extrapolation yet; 4, 6, 7 extrapolate.
    expect(be.counts).toMatchObject({ forward: B, velocity: 0, combine: 3, head: 3 });
    expect(be.live.size).toBe(0);
    const be2 = new TestBackend();
    await generate(be2, { condition: 0, steps: N, plan: [0, 1, 2, 5], predictor: 'taylor', taylorOrder: 2, seed: 1 });
    expect(be2.counts).toMatchObject({ forward: 4, combine: 4, head: 4 });
    expect(be2.live.size).toBe(0);
  });

  it('learned-taylor: the velocity before the second full step, then one Taylor combine + head per skipped step', async () => {
    const be = new TestBackend();
    const r = await generate(be, { condition: [0, 1], steps: N, budget: B, predictor: 'shortcut-taylor', seed: 1 });
    // skipped steps 1, 2 (one full step so far) run the shortcut; 4 extrapolates from steps 0 and 3, 6 and 7 from 3 and 5.
    expect(be.counts).toMatchObject({ forward: B, velocity: 2, combine: 2 + 3, head: 2 + 3 });
    expect(r.trace.map((t) => t.kind)).toEqual(['full', 'skipped', 'skipped', 'full', 'skipped', 'full', 'skipped', 'skipped']);
    expect(be.live.size).toBe(0);
    // Its features are learned's up to the second full step and taylor's from there on (same seed, same state).
    const features = async (predictor: 'shortcut' | 'taylor' | 'shortcut-taylor'): Promise<(Float32Array | null)[]> => {
      const tb = new TestBackend();
      const seen: (Float32Array | null)[] = [];
      await generate(tb, {
        condition: [0, 1],
        steps: N,
        budget: B,
        predictor,
        seed: 1,
        onFeature: async (e) => void seen.push(e.feature ? await tb.readFeature(e.feature) : null),
      });
      return seen;
    };
    const [hybrid, learned, taylor] = [await features('shortcut-taylor'), await features('shortcut'), await features('taylor')];
    for (const i of [0, 1, 2, 3]) expect(hybrid[i]).toEqual(learned[i]);
    expect(taylor[1]).toBeNull(); // taylor reuses step 0's feature at steps 1-2
    expect(hybrid[4]).not.toEqual(learned[4]);
    for (const i of [4, 6, 7]) {
      // taylor's own run saw other tokens at steps 1-2, so compare with taylor's formula on the hybrid's full steps.
      const k = i < 5 ? i - 3 : i - 5;
      const [fa, fb] = i < 5 ? [hybrid[0]!, hybrid[3]!] : [hybrid[3]!, hybrid[5]!];
      const span = i < 5 ? 3 : 2;
      const want = fb.map((v, j) => v + (k * (v - fa[j]!)) / span);
      hybrid[i]!.forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 4));
    }
    expect(taylor[4]).not.toBeNull();
    const be2 = new TestBackend();
    await generate(be2, { condition: 0, steps: N, plan: [0, 1, 2, 5], predictor: 'shortcut-taylor', taylorOrder: 2, seed: 1 });
    expect(be2.counts).toMatchObject({ forward: 4, velocity: 0, combine: 4, head: 4 });
    expect(be2.live.size).toBe(0);
    expect(await codeOf(generate(new TestBackend({ shortcut: false }), { steps: N, budget: B, predictor: 'shortcut-taylor', seed: 1 }))).toBe('UNSUPPORTED');
  });

  it('defaults to the learned shortcut with the manifest budget when a shortcut is loaded, else vanilla', async () => {
    const be = new TestBackend();
    const r = await generate(be, { seed: 1 });
    expect(r.predictor).toBe('shortcut');
    expect(r.plan.length).toBe(be.manifest.sampling.budget);
    const plain = new TestBackend({ shortcut: false });
    expect((await generate(plain, { seed: 1 })).predictor).toBe('vanilla');
  });

  it('unconditional without guidance runs only the conditional rows', async () => {
    const be = new TestBackend();
    await generate(be, { condition: null, batch: 2, steps: 4, predictor: 'vanilla', seed: 1 });
    expect(be.counts.forwardRows).toBe(4 * 2);
    const be2 = new TestBackend();
    await generate(be2, { condition: 1, batch: 2, steps: 4, predictor: 'vanilla', guidance: 0, seed: 1 });
    expect(be2.counts.forwardRows).toBe(4 * 2);
  });
});

describe('generate() results', () => {
  it('commits every token exactly by the schedule and reports progress', async () => {
    const be = new TestBackend();
    const events: StepEvent[] = [];
    const r = await generate(be, {
      condition: [0, 2],
      steps: 6,
      predictor: 'shortcut',
      budget: 2,
      seed: 3,
      onStep: (e) => events.push({ ...e, tokens: e.tokens.slice() }),
    });
    const L = be.manifest.tokens.count;
    expect(r.tokens.length).toBe(2 * L);
    expect(r.tokens.every((t) => t >= 0 && t < be.manifest.tokens.codebookSize)).toBe(true);
    expect(events.map((e) => e.step)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(events.at(-1)!.masked).toBe(0);
    expect(events.reduce((a, e) => a + e.revealed, 0)).toBe(L);
    const maskedInPreview = events.map((e) => e.tokens.filter((t) => t === be.manifest.tokens.maskId).length / 2);
    expect(maskedInPreview).toEqual(events.map((e) => e.masked));
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.backendMs);
    expect(r.trace.reduce((a, t) => a + t.backendCalls, 0)).toBe(r.calls.forward + r.calls.head + r.calls.velocity + r.calls.combine);
  });

  it('same seed gives identical tokens; another seed gives others', async () => {
    const be = new TestBackend({ side: 6, codebookSize: 16 });
    for (const predictor of ['vanilla', 'shortcut', 'reuse', 'taylor'] as const) {
      const opts = { condition: [0, 1, null], steps: 8, predictor, seed: 77, ...(predictor === 'vanilla' ? {} : { budget: 3 }) };
      const a = await generate(be, opts);
      const b = await generate(be, opts);
      const c = await generate(be, { ...opts, seed: 78 });
      expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
      expect(Array.from(a.tokens)).not.toEqual(Array.from(c.tokens));
    }
  });

  it('an image does not depend on the batch it is generated in', async () => {
    const be = new TestBackend({ side: 6, codebookSize: 16 });
    const L = be.manifest.tokens.count;
    const big = await generate(be, { condition: [2, 2, 2], steps: 8, predictor: 'shortcut', budget: 3, seed: 5 });
    const small = await generate(be, { condition: [2], steps: 8, predictor: 'shortcut', budget: 3, seed: 5 });
    expect(Array.from(big.tokens.subarray(0, L))).toEqual(Array.from(small.tokens));
  });

  it('reports a random seed when none is given, and that seed reproduces the run', async () => {
    const be = new TestBackend();
    const a = await generate(be, { condition: 1, steps: 5, predictor: 'vanilla' });
    const b = await generate(be, { condition: 1, steps: 5, predictor: 'vanilla', seed: a.seed });
    expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
  });

  it('learned steps after a step that revealed nothing keep the feature (dimoo schedules have such steps)', async () => {
    const be = new TestBackend({ steps: 9 });
    const counts = Array.from((await import('../src/schedules/resolve.js')).resolveSchedule('dimoo', 9, 16));
    expect(counts).toContain(0);
    const r = await generate(be, { condition: 0, steps: 9, schedule: 'dimoo', predictor: 'shortcut', budget: 3, seed: 1 });
    expect(r.tokens.every((t) => t < be.manifest.tokens.codebookSize)).toBe(true);
    // Skipped steps right after a zero-reveal step make no model call.
    const zeroAfter = r.trace.filter((t, i) => t.kind === 'skipped' && r.trace[i - 1]!.revealed === 0).length;
    expect(zeroAfter).toBeGreaterThan(0);
    expect(be.counts.velocity).toBe(9 - 3 - zeroAfter);
    expect(be.live.size).toBe(0);
  });

  it('supports the dimoo schedule, gumbel-max draws, top-k and top-p', async () => {
    const be = new TestBackend();
    for (const extra of [
      { schedule: 'dimoo' as const },
      { draw: 'gumbel-max' as const },
      { topK: 3 },
      { topP: 0.9 },
      { schedule: { counts: [4, 4, 8] }, steps: 3 },
    ]) {
      const r = await generate(be, { condition: 0, steps: 8, predictor: 'vanilla', seed: 1, ...extra });
      expect(r.tokens.every((t) => t >= 0 && t < be.manifest.tokens.codebookSize)).toBe(true);
    }
  });
});

describe('guidedHead: guidance applied to the feature at skipped steps', () => {
  const N = 8;
  const B = 3;
  const batch = 4;
  const equalShare = (a: Int32Array, b: Int32Array): number => a.reduce((n, t, i) => n + (t === b[i] ? 1 : 0), 0) / a.length;
  for (const predictor of ['shortcut', 'taylor'] as const) {
    it(`${predictor}: the head runs on B rows, not 2B, and draws the tokens of guided logits`, async () => {
      const fast = new TestBackend();
      const slow = new TestBackend();
      const opts = { condition: [0, 1, 2, null], steps: N, budget: B, predictor, seed: 3 };
      const a = await generate(fast, opts);
      const b = await generate(slow, { ...opts, guidedHead: false });
      expect(fast.capabilities.guidedHead).toBe(true);
      const heads = predictor === 'shortcut' ? N - B : 3; // taylor extrapolates at steps 4, 6 and 7 only
      expect(fast.counts.head).toBe(heads);
      expect(fast.counts.headRows).toBe(heads * batch);
      expect(slow.counts.headRows).toBe(heads * 2 * batch);
      // Equal up to float32 rounding of the two orders of operations: a tie flip is possible, a pattern is not.
      expect(equalShare(a.tokens, b.tokens)).toBeGreaterThanOrEqual(0.98);
      expect(fast.live.size).toBe(0);
    });
  }
  it('a head the manifest does not declare affine runs on both branches', async () => {
    const be = new TestBackend({ affineHead: false });
    expect(be.capabilities.guidedHead).toBe(false);
    expect(be.guidedHead).toBeUndefined();
    await generate(be, { condition: 0, steps: N, budget: B, predictor: 'shortcut', seed: 1 });
    expect(be.counts.headRows).toBe((N - B) * 2);
  });
  it('without guidance the head already runs on B rows', async () => {
    const be = new TestBackend();
    await generate(be, { condition: [0, 1], steps: N, budget: B, predictor: 'shortcut', guidance: 0, seed: 1 });
    expect(be.counts.headRows).toBe((N - B) * 2);
  });
  it('after a step that revealed nothing, logits guided at another weight are guided again', async () => {
    const fast = new TestBackend({ steps: 9 });
    const slow = new TestBackend({ steps: 9 });
    const opts = { condition: [0, 1, 2, 0], steps: 9, schedule: 'dimoo' as const, predictor: 'shortcut' as const, budget: 3, seed: 2 };
    const a = await generate(fast, opts);
    const b = await generate(slow, { ...opts, guidedHead: false });
    const zeroAfter = a.trace.filter((t, i) => t.kind === 'skipped' && a.trace[i - 1]!.revealed === 0).length;
    expect(zeroAfter).toBeGreaterThan(0);
    // The linear guidance schedule changes w every step: each skipped step needs its own guided head.
    expect(fast.counts.head).toBe(9 - 3);
    expect(slow.counts.head).toBe(9 - 3 - zeroAfter);
    expect(equalShare(a.tokens, b.tokens)).toBeGreaterThanOrEqual(0.98);
  });
});

describe('skippedRandomizeTemperature', () => {
  const be = new TestBackend({ side: 6, codebookSize: 16 });
  const base = { condition: [0, 1, 2, null], steps: 8, seed: 5 } as const;
  it('defaults to randomizeTemperature: the same tokens as leaving it out', async () => {
    const a = await generate(be, { ...base, predictor: 'shortcut', budget: 3, randomizeTemperature: 3 });
    const b = await generate(be, { ...base, predictor: 'shortcut', budget: 3, randomizeTemperature: 3, skippedRandomizeTemperature: 3 });
    expect(b.tokens).toEqual(a.tokens);
  });
  it('changes only skipped steps: vanilla ignores it, accelerated runs change', async () => {
    const v1 = await generate(be, { ...base, predictor: 'vanilla' });
    const v2 = await generate(be, { ...base, predictor: 'vanilla', skippedRandomizeTemperature: 40 });
    expect(v2.tokens).toEqual(v1.tokens);
    // Step 0 is always full: its commits are the same whatever the skipped-step noise.
    const steps: Int32Array[][] = [];
    for (const s of [undefined, 40]) {
      const seen: Int32Array[] = [];
      await generate(be, {
        ...base,
        predictor: 'reuse',
        budget: 3,
        ...(s === undefined ? {} : { skippedRandomizeTemperature: s }),
        onStep: (e) => seen.push(e.tokens.slice()),
      });
      steps.push(seen);
    }
    expect(steps[1]![0]).toEqual(steps[0]![0]);
    expect(steps[1]!.at(-1)).not.toEqual(steps[0]!.at(-1));
  });
  it("comes from the manifest's sampling defaults when set there; the option overrides it", () => {
    const m = { ...be.manifest, sampling: { ...be.manifest.sampling, skippedRandomizeTemperature: 9 } };
    expect(resolveOptions({ predictor: 'reuse' }, m, true).skippedRandomizeTemperature).toBe(9);
    expect(resolveOptions({ predictor: 'reuse', skippedRandomizeTemperature: 2 }, m, true).skippedRandomizeTemperature).toBe(2);
    expect(resolveOptions({ predictor: 'reuse', randomizeTemperature: 3 }, be.manifest, true).skippedRandomizeTemperature).toBe(3);
    // DiMOO's schedule uses r_temp 1 by default, at skipped steps too, whatever the MaskGIT manifest says.
    expect(resolveOptions({ predictor: 'reuse', schedule: 'dimoo' }, m, true).skippedRandomizeTemperature).toBe(1);
  });
});

describe('generate() abort', () => {
  it('stops within one step when aborted from a progress callback and releases every feature', async () => {
    const be = new TestBackend();
    const controller = new AbortController();
    const seen: number[] = [];
    const p = generate(be, {
      condition: 0,
      steps: 8,
      predictor: 'shortcut',
      budget: 3,
      seed: 1,
      signal: controller.signal,
      onStep: (e) => {
        seen.push(e.step);
        if (e.step === 2) controller.abort();
      },
    });
    expect(await codeOf(p)).toBe('ABORTED');
    expect(seen).toEqual([0, 1, 2]);
    expect(be.live.size).toBe(0);
  });

  it('stops inside a slow backend call and releases what that call returned', async () => {
    const be = new TestBackend();
    const controller = new AbortController();
    be.onCall = async (method) => {
      if (method === 'velocity') controller.abort(new Error('user cancelled'));
    };
    expect(await codeOf(generate(be, { condition: 0, steps: 8, predictor: 'shortcut', budget: 3, seed: 1, signal: controller.signal }))).toBe('ABORTED');
    expect(be.counts.velocity).toBe(1);
    expect(be.counts.head).toBe(0);
    expect(be.live.size).toBe(0);
  });

  it('refuses to start with an already aborted signal', async () => {
    const be = new TestBackend();
    expect(await codeOf(generate(be, { signal: AbortSignal.abort() }))).toBe('ABORTED');
    expect(be.counts.forward).toBe(0);
  });
});

describe('generate() errors', () => {
  const be = new TestBackend();
  const cases: [string, Record<string, unknown>, MigmErrorCode][] = [
    ['NaN steps', { steps: Number.NaN }, 'INVALID_OPTION'],
    ['negative steps', { steps: -3 }, 'INVALID_OPTION'],
    ['more steps than tokens', { steps: 17 }, 'INVALID_OPTION'],
    ['B > N', { steps: 4, budget: 5, predictor: 'shortcut' }, 'INVALID_OPTION'],
    ['B < 1', { steps: 4, budget: 0, predictor: 'reuse' }, 'INVALID_OPTION'],
    ['budget with vanilla', { steps: 4, budget: 2, predictor: 'vanilla' }, 'INVALID_OPTION'],
    ['budget and plan together', { steps: 4, budget: 2, plan: [0, 2], predictor: 'taylor' }, 'INVALID_OPTION'],
    ['a plan not starting at 0', { steps: 4, plan: [1, 2], predictor: 'taylor' }, 'INVALID_OPTION'],
    ['wrong class id', { condition: 3 }, 'INVALID_OPTION'],
    ['fractional class id', { condition: 0.5 }, 'INVALID_OPTION'],
    ['condition list of the wrong length', { condition: [0, 1], batch: 3 }, 'INVALID_OPTION'],
    ['zero batch', { batch: 0 }, 'INVALID_OPTION'],
    ['fractional batch', { batch: 1.5 }, 'INVALID_OPTION'],
    ['negative guidance', { guidance: -1 }, 'INVALID_OPTION'],
    ['NaN guidance', { guidance: Number.NaN }, 'INVALID_OPTION'],
    ['zero inverse temperature', { inverseTemperature: 0 }, 'INVALID_OPTION'],
    ['infinite randomize temperature', { randomizeTemperature: Infinity }, 'INVALID_OPTION'],
    ['negative skipped-step randomize temperature', { predictor: 'reuse', skippedRandomizeTemperature: -1 }, 'INVALID_OPTION'],
    ['non-numeric skipped-step randomize temperature', { predictor: 'reuse', skippedRandomizeTemperature: '14' }, 'INVALID_OPTION'],
    ['unknown predictor', { predictor: 'magic' }, 'INVALID_OPTION'],
    ['unknown schedule', { schedule: 'zigzag' }, 'INVALID_OPTION'],
    ['topK above K', { topK: 9 }, 'INVALID_OPTION'],
    ['topP of 0', { topP: 0 }, 'INVALID_OPTION'],
    ['negative seed', { seed: -1 }, 'INVALID_OPTION'],
    ['fractional seed', { seed: 1.5 }, 'INVALID_OPTION'],
    ['taylor order 3', { predictor: 'taylor', taylorOrder: 3 }, 'INVALID_OPTION'],
    ['unknown draw', { draw: 'fast' }, 'INVALID_OPTION'],
    ['non-boolean guidedHead', { guidedHead: 'yes' }, 'INVALID_OPTION'],
  ];
  for (const [what, opts, code] of cases) {
    it(`${what} -> ${code}`, async () => {
      expect(await codeOf(generate(be, opts as never))).toBe(code);
    });
  }
  it('messages name the option, the value and what is allowed', async () => {
    await expect(generate(be, { condition: 7 })).rejects.toThrow(/'condition'.*got 7.*0 to 2/);
    await expect(generate(be, { steps: 4, budget: 9, predictor: 'reuse' })).rejects.toThrow(/'budget'.*got 9.*1 to steps \(4\)/);
  });
  it('a batch whose logits would not fit in memory is INVALID_OPTION naming the largest batch', async () => {
    const big = new TestBackend({ side: 32, codebookSize: 4096 });
    // Guided: two rows per image, and the [rows, L, K] float32 buffer must stay under 2 GiB.
    await expect(generate(big, { batch: 100, condition: 0 })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/'batch'.*at most 64 images/),
    });
  });
  it("'shortcut' without a shortcut model is UNSUPPORTED", async () => {
    expect(await codeOf(generate(new TestBackend({ shortcut: false }), { predictor: 'shortcut' }))).toBe('UNSUPPORTED');
  });
  it('a failing backend surfaces as BACKEND_FAILURE and leaks nothing', async () => {
    const bad = new TestBackend();
    bad.onCall = (m) => {
      if (m === 'head') throw new TypeError('session exploded');
    };
    const p = generate(bad, { condition: 0, steps: 6, predictor: 'shortcut', budget: 2, seed: 1 });
    await expect(p).rejects.toMatchObject({ code: 'BACKEND_FAILURE', message: expect.stringContaining('session exploded') });
    expect(bad.live.size).toBe(0);
  });
  it('a disposed backend gives DISPOSED', async () => {
    const gone = new TestBackend();
    await gone.dispose();
    expect(await codeOf(generate(gone, { seed: 1 }))).toBe('DISPOSED');
  });
});

describe('generate() hooks for recording', () => {
  it('onFeature sees every step: base features on full steps, predicted ones on skipped steps, none for reuse', async () => {
    for (const predictor of ['vanilla', 'shortcut', 'taylor', 'reuse', 'shortcut-taylor'] as const) {
      const be = new TestBackend();
      const seen: string[] = [];
      await generate(be, {
        condition: [0, 1],
        steps: 6,
        predictor,
        seed: 1,
        ...(predictor === 'vanilla' ? {} : { budget: 2 }),
        onFeature: async (e) => {
          if (e.feature) {
            // Vanilla's step 0 (weight 0) runs the conditional rows only: nobody reads its unconditional logits.
            const rows = predictor === 'vanilla' && e.step === 0 ? 2 : 4;
            expect(e.guided).toBe(rows === 4);
            expect(e.feature.dims).toEqual([rows, 16, 6]);
            expect((await be.readFeature(e.feature)).length).toBe(rows * 16 * 6);
          }
          seen.push(`${e.kind[0]}${e.feature ? '+' : '-'}`);
        },
      });
      const expected = {
        vanilla: 'f+ f+ f+ f+ f+ f+',
        shortcut: 'f+ s+ s+ f+ s+ s+',
        taylor: 'f+ s- s- f+ s+ s+',
        reuse: 'f+ s- s- f+ s- s-',
        'shortcut-taylor': 'f+ s+ s+ f+ s+ s+',
      }[predictor];
      expect(seen.join(' ')).toBe(expected);
      expect(be.live.size).toBe(0);
    }
  });

  it('onStep reports the positions and ids committed at each step', async () => {
    const be = new TestBackend();
    const L = be.manifest.tokens.count;
    const revealStep = new Int32Array(2 * L).fill(-1);
    const r = await generate(be, {
      condition: [2, 0],
      steps: 5,
      predictor: 'vanilla',
      seed: 9,
      onStep: (e) => {
        for (let b = 0; b < e.batch; b++) {
          for (let j = 0; j < e.revealed; j++) {
            const pos = e.revealedPositions[b * e.revealed + j]!;
            expect(revealStep[b * L + pos]).toBe(-1);
            revealStep[b * L + pos] = e.step;
            expect(e.tokens[b * L + pos]).toBe(e.revealedTokens[b * e.revealed + j]);
          }
        }
      },
    });
    expect(revealStep.every((s) => s >= 0)).toBe(true);
    expect(r.tokens.length).toBe(2 * L);
  });
});
