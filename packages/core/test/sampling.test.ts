import { describe, expect, it } from 'vitest';
import { RandomStreams } from '../src/random/prng.js';
import { drawInverseCdf, expInPlace, filterTopK, filterTopP, guideRow, kthLargest, logSumExp } from '../src/sampling/row.js';
import { expNonPositive } from '../src/sampling/exp-non-positive.js';
import { commitTopConfidence, createSamplerScratch, sampleMaskedPositions, type DrawMethod } from '../src/sampling/step-sampler.js';
import { chiSquare, chiSquareCritical } from './stats.js';

const softmax = (logits: number[], invT = 1): number[] => {
  const m = Math.max(...logits.map((l) => l * invT));
  const e = logits.map((l) => Math.exp(l * invT - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

/** Samples `n` times one masked position through the batched sampler and counts the candidates. */
function histogram(logits: number[], n: number, draw: DrawMethod, opts: { invTemp?: number; topK?: number; topP?: number } = {}): Float64Array {
  const K = logits.length;
  const L = 64;
  const batch = 1;
  const row = new Float32Array(L * K);
  for (let p = 0; p < L; p++) row.set(logits, p * K);
  const scratch = createSamplerScratch(batch, L, K);
  const rng = new RandomStreams(2024, batch);
  const counts = new Float64Array(K);
  const state = new Int32Array(L);
  for (let i = 0; i < n / L; i++) {
    state.fill(K);
    sampleMaskedPositions(
      {
        logits: row,
        guided: false,
        batch,
        tokens: L,
        vocab: K,
        state,
        maskId: K,
        weight: 0,
        invTemp: opts.invTemp ?? 1,
        noiseScale: 1,
        draw,
        topK: opts.topK ?? 0,
        topP: opts.topP ?? 1,
        rng,
      },
      scratch,
    );
    for (let p = 0; p < L; p++) counts[scratch.candidates[p]!]!++;
  }
  return counts;
}

const LOGITS = [2.0, 1.0, 0.5, 0.0, -0.5, -1.0, 1.5, -3.0];

describe('categorical draws', () => {
  for (const draw of ['inverse-cdf', 'gumbel-max'] as const) {
    it(`${draw} matches softmax(l * invTemp) (chi-square, p ~ 1e-4)`, () => {
      const n = 64 * 800;
      for (const invTemp of [1, 0.5, 2]) {
        const counts = histogram(LOGITS, n, draw, { invTemp });
        expect(chiSquare(counts, softmax(LOGITS, invTemp), n)).toBeLessThan(chiSquareCritical(LOGITS.length - 1));
      }
    });

    it(`${draw} detects a wrong distribution (the test can fail)`, () => {
      const n = 64 * 800;
      const counts = histogram(LOGITS, n, draw);
      expect(chiSquare(counts, softmax(LOGITS, 1.2), n)).toBeGreaterThan(chiSquareCritical(LOGITS.length - 1));
    });
  }

  it('top-k keeps only the k most likely tokens, renormalised', () => {
    const n = 64 * 400;
    const counts = histogram(LOGITS, n, 'inverse-cdf', { topK: 3 });
    const keep = [0, 1, 6];
    for (let k = 0; k < LOGITS.length; k++) if (!keep.includes(k)) expect(counts[k]).toBe(0);
    const p = softmax(keep.map((k) => LOGITS[k]!));
    expect(
      chiSquare(
        keep.map((k) => counts[k]!),
        p,
        n,
      ),
    ).toBeLessThan(chiSquareCritical(2));
  });

  it('top-p keeps the smallest set reaching mass p', () => {
    const probs = softmax(LOGITS);
    const n = 64 * 200;
    // The two most likely tokens hold ~0.53 of the mass; p = 0.5 keeps exactly those two.
    const counts = histogram(LOGITS, n, 'inverse-cdf', { topP: 0.5 });
    const kept = counts.reduce((a, c, k) => (c > 0 ? [...a, k] : a), [] as number[]);
    expect(kept).toEqual([0, 6]);
    expect(probs[0]! + probs[6]!).toBeGreaterThan(0.5);
  });

  it('inverse CDF picks by cumulative mass and never a zero-probability entry', () => {
    const p = Float64Array.from([0, 1, 0, 3]);
    expect(drawInverseCdf(p, 4, 4, 0.1)).toBe(1);
    expect(drawInverseCdf(p, 4, 4, 0.25)).toBe(1);
    expect(drawInverseCdf(p, 4, 4, 0.26)).toBe(3);
    expect(drawInverseCdf(p, 4, 4, 0.999999999)).toBe(3);
  });
});

describe('row kernels', () => {
  it('guideRow computes invTemp * ((1 + w) c - w u) and its max', () => {
    const c = Float32Array.from([1, 2, 3, 0, 0, 0]);
    const u = Float32Array.from([9, 9, 9, 3, 1, 2]);
    const out = new Float64Array(3);
    const max = guideRow(c, 0, u, 3, 3, 2, 0.5, out);
    expect(Array.from(out)).toEqual([0.5 * (3 * 1 - 2 * 3), 0.5 * (3 * 2 - 2 * 1), 0.5 * (3 * 3 - 2 * 2)]);
    expect(max).toBe(2.5);
    expect(guideRow(c, 0, null, 0, 3, 2, 1, out)).toBe(3);
    expect(Array.from(out)).toEqual([1, 2, 3]);
  });
  it('expNonPositive matches Math.exp to 1e-11 relative and keeps the edge cases', () => {
    let worst = 0;
    for (let i = 0; i <= 200_000; i++) {
      const x = -80 * (i / 200_000) ** 2; // dense near 0, where softmax mass is
      worst = Math.max(worst, Math.abs(expNonPositive(x) / Math.exp(x) - 1));
    }
    for (const x of [-1e-300, -1e-12, -Math.LN2 / 64, -Math.LN2, -700, -744]) {
      worst = Math.max(worst, Math.abs(expNonPositive(x) / Math.exp(x) - 1));
    }
    expect(worst).toBeLessThan(1e-11);
    expect(expNonPositive(0)).toBe(1);
    expect(expNonPositive(-0)).toBe(1);
    expect(expNonPositive(-Infinity)).toBe(0);
    expect(expNonPositive(-1e9)).toBe(0);
    expect(expNonPositive(Number.NaN)).toBeNaN();
    // The test can fail: Math.exp's argument off by 1e-10 is already caught at this tolerance.
    expect(Math.abs(expNonPositive(-3) / Math.exp(-3 + 1e-10) - 1)).toBeGreaterThan(1e-11);
  });
  it('expInPlace turns top-k filtered (-Infinity) entries into exact zeros', () => {
    const row = Float64Array.from([0, -Infinity, -2, -Infinity]);
    const sum = expInPlace(row, 4, 0);
    expect(Array.from(row)).toEqual([1, 0, expNonPositive(-2), 0]);
    expect(sum).toBeCloseTo(1 + Math.exp(-2), 12);
  });
  it('expInPlace and logSumExp agree', () => {
    const row = Float64Array.from([1, 2, 3]);
    const lse = logSumExp(row, 3, 3);
    const sum = expInPlace(row, 3, 3);
    expect(lse).toBeCloseTo(3 + Math.log(sum), 12);
    expect(lse).toBeCloseTo(Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)), 12);
  });
  it('filterTopK keeps ties at the threshold; kthLargest finds order statistics', () => {
    const row = Float64Array.from([1, 5, 3, 5, 2]);
    filterTopK(row, 5, 2, new Float64Array(5));
    expect(Array.from(row)).toEqual([-Infinity, 5, -Infinity, 5, -Infinity]);
    const v = Float64Array.from([4, 1, 7, 3, 9, 2]);
    expect([1, 2, 3, 6].map((k) => kthLargest(Float64Array.from(v), 6, k))).toEqual([9, 7, 4, 1]);
  });
  it('filterTopP zeroes the tail and returns the kept mass', () => {
    const p = Float64Array.from([0.1, 0.5, 0.15, 0.25]);
    const kept = filterTopP(p, 4, 1, 0.7, new Uint32Array(4));
    expect(Array.from(p)).toEqual([0, 0.5, 0, 0.25]);
    expect(kept).toBeCloseTo(0.75, 12);
  });
});

describe('MaskGIT confidence and commit', () => {
  it('commits the k most confident masked positions, never a revealed one', () => {
    const L = 6;
    const K = 4;
    const scratch = createSamplerScratch(1, L, K);
    const state = Int32Array.from([K, 2, K, K, K, K]);
    scratch.candidates.set([0, 9, 1, 2, 3, 1]);
    scratch.confidence.set([-1, 100, -0.5, -3, -0.5, -2]);
    const pos = new Int32Array(2);
    const tok = new Int32Array(2);
    expect(commitTopConfidence(state, K, 1, L, 2, scratch, pos, tok)).toBe(2);
    // -0.5 at positions 2 and 4 tie: both beat -1; the revealed position 1 (confidence 100) is ignored.
    expect(Array.from(pos)).toEqual([2, 4]);
    expect(Array.from(tok)).toEqual([1, 3]);
    expect(Array.from(state)).toEqual([K, 2, 1, K, 3, K]);
  });

  it('breaks exact ties by lower position', () => {
    const scratch = createSamplerScratch(1, 4, 2);
    const state = Int32Array.from([2, 2, 2, 2]);
    scratch.candidates.set([1, 1, 0, 0]);
    scratch.confidence.set([0, 0, 0, 0]);
    const pos = new Int32Array(3);
    commitTopConfidence(state, 2, 1, 4, 3, scratch, pos, new Int32Array(3));
    expect(Array.from(pos)).toEqual([0, 1, 2]);
  });

  it('with zero noise the confidence is log p of the candidate', () => {
    const K = 3;
    const logits = Float32Array.from([0, 1, 2]);
    const scratch = createSamplerScratch(1, 1, K);
    sampleMaskedPositions(
      {
        logits,
        guided: false,
        batch: 1,
        tokens: 1,
        vocab: K,
        state: Int32Array.from([K]),
        maskId: K,
        weight: 0,
        invTemp: 1,
        noiseScale: 0,
        draw: 'inverse-cdf',
        topK: 0,
        topP: 1,
        rng: new RandomStreams(1, 1),
      },
      scratch,
    );
    const c = scratch.candidates[0]!;
    expect(scratch.confidence[0]).toBeCloseTo(Math.log(softmax([0, 1, 2])[c]!), 10);
  });

  it('uses the unconditional half of the batch for guidance', () => {
    // cond prefers token 0, uncond prefers token 0 even more: strong guidance pushes towards token 1.
    const K = 2;
    const logits = Float32Array.from([1, 0, 5, 0]);
    const scratch = createSamplerScratch(1, 1, K);
    let ones = 0;
    const rng = new RandomStreams(3, 1);
    for (let i = 0; i < 200; i++) {
      sampleMaskedPositions(
        {
          logits,
          guided: true,
          batch: 1,
          tokens: 1,
          vocab: K,
          state: Int32Array.from([K]),
          maskId: K,
          weight: 1,
          invTemp: 1,
          noiseScale: 0,
          draw: 'inverse-cdf',
          topK: 0,
          topP: 1,
          rng,
        },
        scratch,
      );
      ones += scratch.candidates[0]!;
    }
    // guided logits (1+1)*[1,0] - 1*[5,0] = [-3, 0]: p(1) = 0.95.
    expect(ones).toBeGreaterThan(175);
  });
});
