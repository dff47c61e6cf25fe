import { describe, expect, it, vi } from 'vitest';
import { applyGuidance, guidanceWeights } from '../src/guidance/guidance.js';
import { combineHost, guideFeatureHost, HostFeature, integrateHost } from '../src/features/host-features.js';
import { affineHeadUsable, checkAffineHead } from '../src/features/affine-head.js';
import { testManifest } from '../src/testing/test-backend.js';
import { taylorCoefficients, taylorTerms } from '../src/features/taylor.js';
import { isMigmError } from '../src/errors.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return isMigmError(e) ? e.code : 'not-migm';
  }
  return undefined;
};

describe('guidance weights', () => {
  it('constant, linear ramp w * i / (N - 1), and custom', () => {
    expect(Array.from(guidanceWeights(2.8, 3))).toEqual([2.8, 2.8, 2.8]);
    expect(Array.from(guidanceWeights({ scale: 4, schedule: 'constant' }, 2))).toEqual([4, 4]);
    expect(Array.from(guidanceWeights({ scale: 3, schedule: 'linear' }, 4))).toEqual([0, 1, 2, 3]);
    expect(Array.from(guidanceWeights({ scale: 3, schedule: 'linear' }, 1))).toEqual([3]);
    expect(Array.from(guidanceWeights({ weights: [1, 0, 2] }, 3))).toEqual([1, 0, 2]);
  });
  it('rejects NaN, negative, wrong lengths and unknown schedules', () => {
    expect(code(() => guidanceWeights(Number.NaN, 3))).toBe('INVALID_OPTION');
    expect(code(() => guidanceWeights(-1, 3))).toBe('INVALID_OPTION');
    expect(code(() => guidanceWeights({ weights: [1, 2] }, 3))).toBe('INVALID_OPTION');
    expect(code(() => guidanceWeights({ scale: 1, schedule: 'cubic' as 'linear' }, 3))).toBe('INVALID_OPTION');
    expect(code(() => guidanceWeights('2' as never, 3))).toBe('INVALID_OPTION');
  });
  it('combines (1 + w) c - w u', () => {
    const out = applyGuidance(Float32Array.from([1, 2]), Float32Array.from([3, -1]), 2, new Float32Array(2));
    expect(Array.from(out)).toEqual([3 * 1 - 2 * 3, 3 * 2 + 2]);
    expect(Array.from(applyGuidance(Float32Array.from([1, 2]), Float32Array.from([3, -1]), 0, new Float32Array(2)))).toEqual([1, 2]);
  });
});

describe('velocity integration', () => {
  it('f_next = f + dt * v', () => {
    const f = Float32Array.from([1, 2, 3]);
    const v = Float32Array.from([0.5, -1, 2]);
    expect(Array.from(integrateHost(new Float32Array(3), f, v, 2))).toEqual([2, 0, 7]);
    expect(Array.from(integrateHost(new Float32Array(3), f, v, 0))).toEqual([1, 2, 3]);
  });
  it('combines any number of terms in float32', () => {
    const out = combineHost(new Float32Array(2), [Float32Array.from([1, 1]), Float32Array.from([2, 3]), Float32Array.from([1, 0])], [0.5, 2, -1]);
    expect(Array.from(out)).toEqual([0.5 + 4 - 1, 0.5 + 6]);
    expect(code(() => combineHost(new Float32Array(2), [new Float32Array(3)], [1]))).toBe('INVALID_OPTION');
  });
  it('two terms (f + dt v) give the bits of the general path, also in place', () => {
    const n = 1003; // not a multiple of the unrolled loop's 4
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = Math.sin(i) * 3.7;
      b[i] = Math.cos(i * 1.3) * 0.01;
    }
    for (const coefs of [
      [1, 1],
      [0.7, -1.9],
      [1, 0],
    ]) {
      // Reference: the general path's float32 store after each term.
      const ref = new Float32Array(n);
      for (let i = 0; i < n; i++) ref[i] = coefs[0]! * a[i]!;
      for (let i = 0; i < n; i++) ref[i] = ref[i]! + coefs[1]! * b[i]!;
      expect(Array.from(combineHost(new Float32Array(n), [a, b], coefs))).toEqual(Array.from(ref));
      const inPlace = Float32Array.from(a);
      expect(Array.from(combineHost(inPlace, [inPlace, b], coefs))).toEqual(Array.from(ref));
    }
    expect(Array.from(integrateHost(new Float32Array(2), Float32Array.from([1, 2]), Float32Array.from([0.5, -1]), 2))).toEqual([2, 0]);
  });
  it('writes into a later operand correctly (out aliasing arrays[j], j > 0)', () => {
    const x = Float32Array.from([1, 2]);
    const y = Float32Array.from([10, 20]);
    const z = Float32Array.from([100, 200]);
    expect(Array.from(combineHost(z, [x, y, z], [1, 2, 0.5]))).toEqual([1 + 20 + 50, 2 + 40 + 100]);
    const v = Float32Array.from([0.5, 0.25]);
    expect(Array.from(combineHost(v, [Float32Array.from([1, 1]), v], [2, 4]))).toEqual([4, 3]);
  });
  it('guideFeatureHost: (1 + w) cond - w uncond over [cond; uncond] rows', () => {
    const f = Float32Array.from([1, 2, 3, 10, 20, 30]);
    expect(Array.from(guideFeatureHost(new Float32Array(3), f, 2))).toEqual([3 - 20, 6 - 40, 9 - 60]);
    expect(Array.from(guideFeatureHost(new Float32Array(3), f, 0))).toEqual([1, 2, 3]);
    expect(code(() => guideFeatureHost(new Float32Array(2), f, 1))).toBe('INVALID_OPTION');
    expect(code(() => guideFeatureHost(new Float32Array(2), new Float32Array(5), 1))).toBe('INVALID_OPTION');
    expect(code(() => guideFeatureHost(new Float32Array(3), f, -1))).toBe('INVALID_OPTION');
    expect(code(() => guideFeatureHost(new Float32Array(3), f, Number.NaN))).toBe('INVALID_OPTION');
  });
  it('HostFeature checks its size and refuses use after release', () => {
    expect(code(() => new HostFeature(new Float32Array(5), [1, 2, 3]))).toBe('INVALID_OPTION');
    const f = new HostFeature(new Float32Array(6), [1, 2, 3]);
    f.release();
    expect(code(() => f.data)).toBe('DISPOSED');
    expect(code(() => f.release())).toBe('DISPOSED');
  });
});

describe('Taylor extrapolation', () => {
  it('first order: f_i + k (f_i - f_j) / (i - j)', () => {
    // full steps j = 2, i = 5; target 8 = i + 3: coefficients f_i * (1 + 3/3), f_j * (-3/3).
    expect(Array.from(taylorCoefficients([2, 5], 8))).toEqual([-1, 2]);
    const fj = 10;
    const fi = 16;
    const c = taylorCoefficients([2, 5], 6);
    expect(c[0]! * fj + c[1]! * fi).toBeCloseTo(fi + (1 * (fi - fj)) / 3, 12);
  });
  it('second order is exact on a quadratic trajectory', () => {
    const q = (t: number): number => 0.3 * t * t - 2 * t + 1;
    const steps = [1, 4, 6];
    for (const target of [7, 8, 11]) {
      const c = taylorCoefficients(steps, target);
      expect(c[0]! * q(1) + c[1]! * q(4) + c[2]! * q(6)).toBeCloseTo(q(target), 9);
    }
  });
  it('taylorTerms drops to the available order', () => {
    const f = (s: number) => ({ step: s, feature: { dims: [1, 1, 1] as const } });
    expect(taylorTerms([f(0)], 3, 2).map((t) => t.coef)).toEqual([1]);
    expect(taylorTerms([f(0), f(2)], 3, 2).map((t) => t.coef)).toEqual([-0.5, 1.5]);
    expect(taylorTerms([f(0), f(2), f(4)], 5, 1).map((t) => t.coef)).toEqual([-0.5, 1.5]);
  });
});

describe('checkAffineHead', () => {
  const m = testManifest({ affineHead: true });
  const L = m.tokens.count;
  const D = m.featureDim;
  const K = m.tokens.codebookSize;
  /** A head f W^T + b (optionally followed by a non-linearity) over rows of a host feature. */
  const headOf =
    (post: (x: number) => number) =>
    async (f: Float32Array, rows: number): Promise<Float32Array> => {
      const out = new Float32Array(rows * L * K);
      for (let rp = 0; rp < rows * L; rp++) {
        for (let k = 0; k < K; k++) {
          let s = 0.1 * k;
          for (let d = 0; d < D; d++) s += f[rp * D + d]! * Math.sin(k * 7 + d);
          out[rp * K + k] = post(s);
        }
      }
      return out;
    };
  const codeAsync = async (p: Promise<unknown>): Promise<string | undefined> => {
    try {
      await p;
    } catch (e) {
      return isMigmError(e) ? e.code : 'not-migm';
    }
    return undefined;
  };
  it('accepts an affine head', async () => {
    await expect(
      checkAffineHead(
        m,
        headOf((x) => x),
      ),
    ).resolves.toBeUndefined();
  });
  it('refuses a head with a non-linearity, a NaN or a wrong output size, naming the file', async () => {
    expect(
      await codeAsync(
        checkAffineHead(
          m,
          headOf((x) => x + 0.01 * Math.tanh(x)),
        ),
      ),
    ).toBe('BUNDLE_MISMATCH');
    await expect(
      checkAffineHead(
        m,
        headOf((x) => Math.max(x, 0)),
      ),
    ).rejects.toThrow(/head\.onnx.*graphs\.head\.affine/);
    expect(
      await codeAsync(
        checkAffineHead(
          m,
          headOf((x) => (x > 1.5 ? Number.NaN : x)),
        ),
      ),
    ).toBe('BUNDLE_MISMATCH');
    expect(await codeAsync(checkAffineHead(m, async () => new Float32Array(5)))).toBe('BUNDLE_MISMATCH');
  });
  it('affineHeadUsable: true for an affine head; false with one warning for a failing one; other errors thrown', async () => {
    const warnings: string[] = [];
    expect(
      await affineHeadUsable(
        m,
        headOf((x) => x),
        (w) => warnings.push(w),
      ),
    ).toBe(true);
    expect(warnings).toEqual([]);
    expect(
      await affineHeadUsable(
        m,
        headOf((x) => Math.max(x, 0)),
        (w) => warnings.push(w),
      ),
    ).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^head\.onnx.*both guidance branches/);
    // Without onWarning nothing is printed: a library reports through its API, never the console.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(
        await affineHeadUsable(
          m,
          headOf((x) => Math.max(x, 0)),
        ),
      ).toBe(false);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
    await expect(
      affineHeadUsable(
        m,
        async () => {
          throw new Error('session gone');
        },
        () => {},
      ),
    ).rejects.toThrow('session gone');
  });
});
