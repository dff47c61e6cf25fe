import { describe, expect, it } from 'vitest';
import { compatibilityKey, type QueuedRequest } from '../src/request.js';

describe('compatibilityKey', () => {
  const a: QueuedRequest = { condition: 1, batch: 2, steps: 16, seed: 1 };
  it('jobs that differ only in classes, counts, seeds and layout share a key; other options split them', () => {
    expect(compatibilityKey({ ...a, condition: 3, batch: 5, seed: 9, columns: 2 })).toBe(compatibilityKey(a));
    expect(compatibilityKey({ ...a, guidanceCutoff: 1 })).not.toBe(compatibilityKey(a));
    expect(compatibilityKey({ ...a, sampler: 'host' })).not.toBe(compatibilityKey(a));
  });
  it("an adaptive-refresh job runs alone: its full steps depend on the whole batch", () => {
    const x: QueuedRequest = { ...a, predictor: 'learned', refresh: 'adaptive' };
    expect(compatibilityKey({ ...x, seed: 2 })).not.toBe(compatibilityKey(x));
    expect(compatibilityKey({ ...x, condition: 4 })).not.toBe(compatibilityKey(x));
    expect(compatibilityKey(x)).toBe(compatibilityKey({ ...x }));
  });
});
