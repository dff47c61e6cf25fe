import { describe, expect, it } from 'vitest';
import { testManifest } from '@migm/core/testing';
import { getShortcut, idealSpeedup } from '../src/index.js';

describe('getShortcut', () => {
  it('returns the shortcut of a bundle', () => {
    expect(getShortcut(testManifest({ steps: 12 }))).toMatchObject({ trainedSteps: 12, file: 'shortcut.onnx' });
  });
  it('UNSUPPORTED without one; BUNDLE_MISMATCH for another base model or width', () => {
    expect(() => getShortcut(testManifest({ shortcut: false }))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
    const m = testManifest();
    const foreign = { ...m.graphs.shortcut!, compatibility: { ...m.graphs.shortcut!.compatibility, featureDim: 64 } };
    expect(() => getShortcut(m, foreign)).toThrow(expect.objectContaining({ code: 'BUNDLE_MISMATCH' }));
  });
});

describe('idealSpeedup', () => {
  it('N / (B + (N - B) rho)', () => {
    expect(idealSpeedup(16, 16, 0.1)).toBe(1);
    expect(idealSpeedup(16, 4, 0)).toBe(4);
    expect(idealSpeedup(32, 8, 0.075)).toBeCloseTo(32 / (8 + 24 * 0.075), 12);
  });
  it('rejects budgets outside 1..N and negative costs', () => {
    expect(() => idealSpeedup(8, 9, 0.1)).toThrow(/budget/);
    expect(() => idealSpeedup(8, 2, -1)).toThrow(/rho/);
  });
});
