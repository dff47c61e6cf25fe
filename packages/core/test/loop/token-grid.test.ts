import { describe, expect, it } from 'vitest';
import { TokenGrid } from '../../src/loop/token-grid.js';
import { createSamplerScratch } from '../../src/sampling/step-sampler.js';

const MASK = 9;

describe('TokenGrid', () => {
  it('starts all masked', () => {
    const g = new TokenGrid(2, 4, MASK, 3);
    expect(Array.from(g.state)).toEqual(new Array(8).fill(MASK));
    expect(g.masked).toBe(4);
    expect(g.lastRevealed).toBe(0);
    expect(g.positions().length).toBe(0);
  });

  it("commits the device sampler's picks: each image's positions get their ids", () => {
    const g = new TokenGrid(2, 4, MASK, 2);
    g.revealedPositions.set([1, 3, 0, 2]);
    g.revealedTokens.set([5, 6, 7, 8]);
    g.commitRevealed(2);
    expect(Array.from(g.state)).toEqual([MASK, 5, MASK, 6, 7, MASK, 8, MASK]);
    expect(g.masked).toBe(2);
    expect(g.lastRevealed).toBe(2);
    expect(Array.from(g.positions())).toEqual([1, 3, 0, 2]);
    expect(Array.from(g.ids())).toEqual([5, 6, 7, 8]);
    // A step that commits nothing changes nothing but the last reveal.
    g.commitRevealed(0);
    expect(g.masked).toBe(2);
    expect(g.positions().length).toBe(0);
  });

  it('commits the most confident candidates of each image (host sampler), at most as many as are masked', () => {
    const g = new TokenGrid(2, 4, MASK, 3);
    const s = createSamplerScratch(2, 4, 10);
    s.candidates.set([1, 2, 3, 4, 5, 6, 7, 8]);
    s.confidence.set([0.1, 0.9, 0.5, 0.2, 0.3, 0.3, 0.8, 0.1]);
    g.commitTopConfidence(2, s);
    // Image 0: positions 1 (0.9) and 2 (0.5); image 1: 2 (0.8), then the tie 0.3 goes to the lower position 0.
    expect(Array.from(g.positions())).toEqual([1, 2, 0, 2]);
    expect(Array.from(g.ids())).toEqual([2, 3, 5, 7]);
    expect(Array.from(g.state)).toEqual([MASK, 2, 3, MASK, 5, MASK, 7, MASK]);
    expect(g.masked).toBe(2);
    g.commitTopConfidence(3, s);
    expect(g.lastRevealed).toBe(2);
    expect(g.masked).toBe(0);
    expect(Array.from(g.state)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
