import { describe, expect, it } from 'vitest';
import { checkPlan, fullStepPlan } from '../src/plan/full-step-plan.js';
import { isMigmError } from '../src/errors.js';

const err = (fn: () => unknown): { code?: string; message?: string } => {
  try {
    fn();
  } catch (e) {
    return isMigmError(e) ? { code: e.code, message: e.message } : { code: 'not-migm' };
  }
  return {};
};

describe('fullStepPlan', () => {
  it('B = 1 is step 0 only; B = N is every step', () => {
    expect(Array.from(fullStepPlan(16, 1))).toEqual([0]);
    expect(Array.from(fullStepPlan(5, 5))).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(fullStepPlan(1, 1))).toEqual([0]);
  });
  it('is strictly increasing, starts at 0, stays below N, for every B', () => {
    for (const n of [2, 7, 15, 16, 32, 64]) {
      for (let b = 1; b <= n; b++) {
        const p = fullStepPlan(n, b);
        expect(p.length).toBe(b);
        expect(p[0]).toBe(0);
        for (let k = 1; k < b; k++) expect(p[k]!).toBeGreaterThan(p[k - 1]!);
        expect(p[b - 1]!).toBeLessThan(n);
      }
    }
  });
  it('uses half-to-even rounding (N=10, B=4: 2.5 -> 2, 7.5 -> 8)', () => {
    expect(Array.from(fullStepPlan(10, 4))).toEqual([0, 2, 5, 8]);
  });
  it('rejects B < 1, B > N, N < 1 and non-integers with messages naming the value', () => {
    expect(err(() => fullStepPlan(16, 0))).toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('budget') });
    expect(err(() => fullStepPlan(16, 17)).message).toContain('got 17');
    expect(err(() => fullStepPlan(0, 1)).code).toBe('INVALID_OPTION');
    expect(err(() => fullStepPlan(16, Number.NaN)).code).toBe('INVALID_OPTION');
    expect(err(() => fullStepPlan(16, 2.5)).code).toBe('INVALID_OPTION');
  });
});

describe('checkPlan (explicit list)', () => {
  it('accepts a strictly increasing list starting at 0', () => {
    expect(Array.from(checkPlan([0, 2, 9], 10))).toEqual([0, 2, 9]);
  });
  it('rejects lists that do not start at 0, repeat, go out of range or are empty', () => {
    for (const bad of [[1, 2], [0, 2, 2], [0, 10], [], [0, -1], [0, 1.5]]) expect(err(() => checkPlan(bad, 10)).code).toBe('INVALID_OPTION');
  });
});
