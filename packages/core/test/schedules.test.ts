import { describe, expect, it } from 'vitest';
import { MASKGIT_SCHEDULES, tokenCounts } from '../src/schedules/maskgit.js';
import { dimooKeepMasked, keepMaskedToCounts } from '../src/schedules/dimoo.js';
import { resolveSchedule } from '../src/schedules/resolve.js';
import { roundHalfEven, linspaceF32 } from '../src/schedules/float32.js';
import { isMigmError } from '../src/errors.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return isMigmError(e) ? e.code : 'not-migm';
  }
  return undefined;
};

describe('float32 helpers', () => {
  it('rounds half to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001, 3].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, 3, 3]);
  });
  it('linspace ends exactly at its bounds', () => {
    const r = linspaceF32(1, 0, 7);
    expect(r[0]).toBe(1);
    expect(r[6]).toBe(0);
    expect(linspaceF32(1, 0, 1)[0]).toBe(1);
  });
});

describe('MaskGIT token counts', () => {
  for (const shape of MASKGIT_SCHEDULES) {
    it(`${shape}: every step reveals >= 1 and the counts sum to L`, () => {
      for (const [steps, tokens] of [
        [1, 16],
        [2, 16],
        [7, 196],
        [16, 196],
        [64, 256],
        [16, 16],
      ] as const) {
        const k = tokenCounts(shape, steps, tokens);
        expect(k.length).toBe(steps);
        expect(k.reduce((a, b) => a + b, 0)).toBe(tokens);
        expect(Math.min(...k)).toBeGreaterThanOrEqual(1);
      }
    });
  }
  it('refuses steps outside 1..L and bad token counts', () => {
    expect(codeOf(() => tokenCounts('arccos', 0, 16))).toBe('INVALID_OPTION');
    expect(codeOf(() => tokenCounts('arccos', 17, 16))).toBe('INVALID_OPTION');
    expect(codeOf(() => tokenCounts('arccos', 2.5, 16))).toBe('INVALID_OPTION');
    expect(codeOf(() => tokenCounts('arccos', 4, 0))).toBe('INVALID_OPTION');
    expect(codeOf(() => tokenCounts('nope' as 'arccos', 4, 16))).toBe('INVALID_OPTION');
  });
});

describe('DiMOO keep-masked schedule', () => {
  it('decreases to 0 and converts to counts that sum to L', () => {
    const keep = dimooKeepMasked(16, 196);
    expect(keep[15]).toBe(0);
    for (let i = 1; i < 16; i++) expect(keep[i]!).toBeLessThanOrEqual(keep[i - 1]!);
    const counts = keepMaskedToCounts(keep, 196);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(196);
    expect(Array.from(resolveSchedule('dimoo', 16, 196))).toEqual(Array.from(counts));
  });
});

describe('resolveSchedule', () => {
  it('takes user counts as data', () => {
    expect(Array.from(resolveSchedule({ counts: [4, 4, 8] }, 3, 16))).toEqual([4, 4, 8]);
  });
  it('rejects counts of the wrong length, sum, or values', () => {
    expect(codeOf(() => resolveSchedule({ counts: [8, 8] }, 3, 16))).toBe('INVALID_OPTION');
    expect(codeOf(() => resolveSchedule({ counts: [4, 4, 7] }, 3, 16))).toBe('INVALID_OPTION');
    expect(codeOf(() => resolveSchedule({ counts: [0, 8, 8] }, 3, 16))).toBe('INVALID_OPTION');
    expect(codeOf(() => resolveSchedule({ counts: [4.5, 3.5, 8] }, 3, 16))).toBe('INVALID_OPTION');
    expect(codeOf(() => resolveSchedule('zigzag' as 'arccos', 3, 16))).toBe('INVALID_OPTION');
    expect(codeOf(() => resolveSchedule(null as never, 3, 16))).toBe('INVALID_OPTION');
  });
});
