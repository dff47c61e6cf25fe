import { describe, expect, it } from 'vitest';
import { LogitsBuffer } from '../../src/loop/logits-buffer.js';
import { TestBackend } from '../../src/testing/test-backend.js';

describe('LogitsBuffer', () => {
  it('host: one buffer of maxRows rows; a call on n rows writes its first n rows', () => {
    const be = new TestBackend();
    const l = new LogitsBuffer(be, 2, 4, 16 * 8, false);
    l.open();
    expect(l.device).toBeNull();
    expect(be.liveLogits.size).toBe(0);
    expect(l.host.length).toBe(4 * 16 * 8);
    const t = l.target(2) as Float32Array;
    expect(t.length).toBe(2 * 16 * 8);
    expect(t.buffer).toBe(l.host.buffer);
  });

  it('device: open() makes one handle of maxRows rows, the target of every call; no host buffer', () => {
    const be = new TestBackend({ deviceSampling: true });
    const l = new LogitsBuffer(be, 2, 4, 16 * 8, true);
    expect(l.device).toBeNull();
    l.open();
    expect(l.host.length).toBe(0);
    expect(l.device?.dims).toEqual([4, 16, 8]);
    expect(l.target(2)).toBe(l.device);
    expect(be.liveLogits.size).toBe(1);
  });

  it('says whether sampling still guides, and at which weight the step ends up guided', () => {
    const l = new LogitsBuffer(new TestBackend(), 2, 4, 1, false);
    l.wroteRaw(4); // forward on [cond; uncond]
    expect(l.guideAtSampling).toBe(true);
    expect(l.appliedWeight).toBeNull();
    expect(l.guidance(1.5)).toBe(1.5);
    l.wroteRaw(2); // conditional rows only (guidance cutoff)
    expect(l.guideAtSampling).toBe(false);
    expect(l.guidance(1.5)).toBe(0);
    l.wroteGuided(0.75, 4); // guidedHead: B rows already guided
    expect(l.guideAtSampling).toBe(false);
    expect(l.appliedWeight).toBe(0.75);
    expect(l.guidance(0.75)).toBe(0.75);
  });
});
