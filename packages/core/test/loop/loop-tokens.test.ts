import { describe, expect, it } from 'vitest';
import recorded from '../fixtures/loop-tokens.json' with { type: 'json' };
import { generate } from '../../src/generate/generate.js';
import type { GenerateOptions } from '../../src/generate/options.js';
import { TestBackend, type TestModelSize } from '../../src/testing/test-backend.js';

interface RecordedCase {
  name: string;
  size: TestModelSize;
  options: GenerateOptions;
  expected: {
    tokens: number[];
    plan: number[];
    calls: Record<string, number>;
    sampler: 'host' | 'device';
    /** Per step: kind (F full, S skipped), revealed, masked, guidance, backend calls. */
    trace: [string, number, number, number, number][];
    rows: { forward: number; head: number };
  };
}

const cases = (recorded as unknown as { cases: RecordedCase[] }).cases;

// The loop as it was before it became the sequence of src/loop/'s pieces recorded these runs (every predictor,
// class and text bundles, host and device sampling, the guidance cutoff, adaptive refresh, ...). The same seed
// must give the same tokens, the same full steps, the same backend calls on the same rows, and the same trace.
describe('generate() gives the recorded tokens and calls', () => {
  it('covers every predictor, both samplers and both condition kinds', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(new Set(cases.map((c) => c.options.predictor)).size).toBe(6);
    expect(cases.some((c) => c.expected.sampler === 'device' && c.size.text)).toBe(true);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const be = new TestBackend(c.size);
      const r = await generate(be, c.options);
      expect(Array.from(r.tokens)).toEqual(c.expected.tokens);
      expect(Array.from(r.plan)).toEqual(c.expected.plan);
      expect(r.calls).toEqual(c.expected.calls);
      expect(r.sampler.device ? 'device' : 'host').toBe(c.expected.sampler);
      expect(r.trace.map((t) => [t.kind === 'full' ? 'F' : 'S', t.revealed, t.masked, t.guidance, t.backendCalls])).toEqual(c.expected.trace);
      expect({ forward: be.counts.forwardRows, head: be.counts.headRows }).toEqual(c.expected.rows);
      expect([be.live.size, be.liveLogits.size, be.liveText.size]).toEqual([0, 0, 0]);
    });
  }
});
