import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/generate/options.js';
import { BackendCalls } from '../../src/loop/backend-calls.js';
import { classRows, encodeConditions } from '../../src/loop/row-conditions.js';
import { TestBackend, testManifest } from '../../src/testing/test-backend.js';

describe('row conditions', () => {
  it('class rows: the images classes, then the null class in every guidance row', () => {
    const m = testManifest(); // 3 classes, null class 3
    const rows = classRows(Int32Array.of(0, 2), m, 4, true);
    expect(rows.handle).toBeNull();
    expect(Array.from(rows.fields(4).classes!)).toEqual([0, 2, 3, 3]);
    expect(Array.from(rows.fields(2).classes!)).toEqual([0, 2]);
    expect(rows.fields(2).text).toBeUndefined();
    // Made once per row count: no allocation per step.
    expect(rows.fields(4)).toBe(rows.fields(4));
    const unguided = classRows(Int32Array.of(1), m, 1, false);
    expect(Array.from(unguided.fields(1).classes!)).toEqual([1]);
  });

  it('class bundles make no backend call', async () => {
    const be = new TestBackend();
    const o = resolveOptions({ condition: [2, null], seed: 1 }, be.manifest, true);
    const calls = new BackendCalls(be, undefined);
    const rows = await encodeConditions(be, o, calls);
    expect(calls.counts.encode).toBe(0);
    expect(Array.from(rows.fields(4).classes!)).toEqual([2, 3, 3, 3]);
  });

  it('text bundles: every distinct prompt encoded in one call; rows index it, guidance rows the negative prompt', async () => {
    const be = new TestBackend({ text: true });
    const o = resolveOptions(
      { prompt: ['a fox', 'a cat', 'a fox'], negativePrompt: 'blur', microConditioning: [8, 8, 1, 2, 5], seed: 1 },
      be.manifest,
      true,
      be.tokenizer,
    );
    const calls = new BackendCalls(be, undefined);
    const rows = await encodeConditions(be, o, calls);
    expect(calls.counts.encode).toBe(1);
    expect(be.counts.encodedPrompts).toBe(3); // 'a fox', 'a cat', 'blur'
    expect(rows.handle).not.toBeNull();
    expect(be.liveText.size).toBe(1);
    const six = rows.fields(6).text!;
    expect(six.handle).toBe(rows.handle);
    expect(Array.from(six.index)).toEqual([0, 1, 0, 2, 2, 2]);
    expect(Array.from(six.microConds.subarray(5, 10))).toEqual([8, 8, 1, 2, 5]);
    const three = rows.fields(3).text!;
    expect(three.index.length).toBe(3);
    expect(three.microConds.length).toBe(15);
    expect(rows.fields(3).classes).toBeUndefined();
    be.release(rows.handle!);
    expect(be.liveText.size).toBe(0);
  });
});
