import { describe, expect, it } from 'vitest';
import { compatibilityKey, type QueuedRequest } from '../src/request.js';

describe('compatibilityKey', () => {
  const a: QueuedRequest = { condition: 1, batch: 2, steps: 16, seed: 1 };
  it('jobs that differ only in classes, counts, seeds and layout share a key; other options split them', () => {
    expect(compatibilityKey({ ...a, condition: 3, batch: 5, seed: 9, columns: 2 })).toBe(compatibilityKey(a));
    expect(compatibilityKey({ ...a, guidanceCutoff: 1 })).not.toBe(compatibilityKey(a));
    expect(compatibilityKey({ ...a, sampler: 'host' })).not.toBe(compatibilityKey(a));
  });
  it('an adaptive-refresh job runs alone: its full steps depend on the whole batch', () => {
    const x: QueuedRequest = { ...a, predictor: 'shortcut', refresh: 'adaptive' };
    expect(compatibilityKey({ ...x, seed: 2 })).not.toBe(compatibilityKey(x));
    expect(compatibilityKey({ ...x, condition: 4 })).not.toBe(compatibilityKey(x));
    expect(compatibilityKey(x)).toBe(compatibilityKey({ ...x }));
  });
});

describe('validateRequest', () => {
  it("stores a method's one name, so a legacy name and the one name are the same job", async () => {
    const { TestBackend } = await import('@migm/core/testing');
    const { validateRequest, requestJobId } = await import('../src/request.js');
    const m = new TestBackend().manifest;
    const legacy = validateRequest({ condition: 1, steps: 6, predictor: 'learned', seed: 4 }, m, true);
    const named = validateRequest({ condition: 1, steps: 6, predictor: 'shortcut', seed: 4 }, m, true);
    expect(legacy.predictor).toBe('shortcut');
    expect(requestJobId('b', legacy)).toBe(requestJobId('b', named));
  });
});
