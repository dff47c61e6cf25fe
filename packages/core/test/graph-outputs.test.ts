import { describe, expect, it } from 'vitest';
import { equalShare, graphOutputs, maxAbsDiff } from '../src/testing/graph-outputs.js';
import { TestBackend } from '../src/testing/test-backend.js';
import { timeGenerate } from '../src/testing/time-generate.js';
import { generate } from '../src/generate/generate.js';

describe('graphOutputs', () => {
  it('runs every graph on seeded inputs, with the output sizes of the manifest, and releases its features', async () => {
    const b = new TestBackend();
    const { count: L, codebookSize: K } = b.manifest.tokens;
    const D = b.manifest.featureDim;
    const out = await graphOutputs(b, { rows: 3, newTokens: 5 });
    expect(Object.keys(out).sort()).toEqual(['decode.pixels', 'forward.feature', 'forward.logits', 'head.logits', 'velocity']);
    expect(out['forward.logits']!.length).toBe(3 * L * K);
    expect(out['forward.feature']!.length).toBe(3 * L * D);
    expect(out['velocity']!.length).toBe(3 * L * D);
    const { width, height, channels } = b.manifest.image;
    expect(out['decode.pixels']!.length).toBe(3 * width * height * channels);
    expect(b.counts).toMatchObject({ forward: 1, head: 1, velocity: 1, decode: 1, forwardRows: 3 });
    expect(b.live.size).toBe(0);
    // The head of the forward feature is the forward's own logits.
    expect(maxAbsDiff(out['head.logits']!, out['forward.logits']!)).toBeLessThan(1e-5);
  });

  it('adds guidedHead (weight 2.5) for an even number of rows when the backend offers it', async () => {
    const b = new TestBackend();
    const { count: L, codebookSize: K } = b.manifest.tokens;
    const out = await graphOutputs(b, { rows: 4 });
    const g = out['guidedHead.logits']!;
    expect(g.length).toBe(2 * L * K);
    const f = out['forward.logits']!;
    const expected = g.map((_, i) => 3.5 * f[i]! - 2.5 * f[g.length + i]!);
    expect(maxAbsDiff(g, expected)).toBeLessThan(1e-4);
    expect(Object.keys(await graphOutputs(new TestBackend({ affineHead: false }), { rows: 4 }))).not.toContain('guidedHead.logits');
  });

  it('gives the same inputs for the same seed and other inputs for another seed', async () => {
    const b = new TestBackend();
    const a1 = await graphOutputs(b, { seed: 7 });
    const a2 = await graphOutputs(b, { seed: 7 });
    const c = await graphOutputs(b, { seed: 8 });
    for (const k of Object.keys(a1)) expect(maxAbsDiff(a1[k]!, a2[k]!)).toBe(0);
    expect(maxAbsDiff(a1['forward.logits']!, c['forward.logits']!)).toBeGreaterThan(0);
  });

  it('skips the velocity on a backend without a shortcut', async () => {
    const out = await graphOutputs(new TestBackend({ shortcut: false }));
    expect(out['velocity']).toBeUndefined();
    expect(out['decode.pixels']).toBeDefined();
  });
});

describe('maxAbsDiff', () => {
  it('is the largest absolute difference', () => {
    expect(maxAbsDiff([1, 2, 3], [1, 2.5, 1])).toBe(2);
    expect(maxAbsDiff(new Float32Array(0), new Float32Array(0))).toBe(0);
  });
  it('is NaN when a value is NaN, so `d <= tolerance` fails', () => {
    expect(maxAbsDiff([0, Number.NaN], [0, 0])).toBeNaN();
  });
  it('rejects arrays of different lengths', () => {
    expect(() => maxAbsDiff([1], [1, 2])).toThrow(/lengths differ/);
  });
});

describe('timeGenerate', () => {
  it('runs a warm-up plus the timed runs with the same options, and reports per-image times and the backend share', async () => {
    const options = { condition: 2, batch: 3, seed: 5, steps: 4 } as const;
    const once = new TestBackend();
    const single = await generate(once, options);
    const b = new TestBackend();
    const t = await timeGenerate(b, options, 3);
    expect(b.counts.forwardRows).toBe(4 * once.counts.forwardRows); // the warm-up + 3 timed runs
    expect(t.warmup.tokens).toEqual(single.tokens);
    expect(t.msPerImageMin).toBeLessThanOrEqual(t.msPerImage);
    expect(t.msPerImage).toBeLessThanOrEqual(t.msPerImageMax);
    expect(t.backendShare).toBeGreaterThanOrEqual(0);
    expect(t.backendShare).toBeLessThanOrEqual(1);
    expect(t.warmup.batch).toBe(3);
  });
  it('rejects a run count that is not a positive integer', async () => {
    await expect(timeGenerate(new TestBackend(), {}, 0)).rejects.toThrow(/runs must be an integer >= 1/);
  });
});

describe('equalShare', () => {
  it('is the share of equal ids', () => {
    expect(equalShare(Int32Array.of(1, 2, 3, 4), Int32Array.of(1, 0, 3, 0))).toBe(0.5);
    expect(equalShare([7], [7])).toBe(1);
  });
  it('rejects empty or mismatched arrays', () => {
    expect(() => equalShare([], [])).toThrow(/lengths must match/);
    expect(() => equalShare([1], [1, 2])).toThrow(/lengths must match/);
  });
});
