import { describe, expect, it } from 'vitest';
import { ControlBuffers } from '../../src/loop/velocity-control.js';

describe('ControlBuffers', () => {
  const positions = Int32Array.of(1, 4, 0, 2, 9, 9); // [B = 2, n = 2], then stale entries
  const tokens = Int32Array.of(10, 11, 12, 13, 99, 99);

  it('B rows: the images reveal and the mask ratio per row', () => {
    const c = new ControlBuffers(2, 4, 3).build(positions, tokens, 2, 0.375, 2);
    expect(c.count).toBe(2);
    expect(Array.from(c.positions)).toEqual([1, 4, 0, 2]);
    expect(Array.from(c.tokens)).toEqual([10, 11, 12, 13]);
    expect(Array.from(c.ratio)).toEqual([0.375, 0.375]);
  });

  it('2B rows: the guidance rows get the same control as their images', () => {
    const c = new ControlBuffers(2, 4, 3).build(positions, tokens, 2, 0.5, 4);
    expect(Array.from(c.positions)).toEqual([1, 4, 0, 2, 1, 4, 0, 2]);
    expect(Array.from(c.tokens)).toEqual([10, 11, 12, 13, 10, 11, 12, 13]);
    expect(c.ratio.length).toBe(4);
  });

  it('reuses its buffers: a later, smaller reveal gives views of its own size; the ratio is float32', () => {
    const buffers = new ControlBuffers(2, 4, 3);
    buffers.build(Int32Array.of(0, 1, 2, 0, 1, 2), Int32Array.of(1, 2, 3, 4, 5, 6), 3, 0.5, 4);
    const c = buffers.build(Int32Array.of(3, 5), Int32Array.of(7, 8), 1, 0.1, 4);
    expect(Array.from(c.positions)).toEqual([3, 5, 3, 5]);
    expect(Array.from(c.tokens)).toEqual([7, 8, 7, 8]);
    expect(c.ratio[0]).toBe(Math.fround(0.1));
  });
});
