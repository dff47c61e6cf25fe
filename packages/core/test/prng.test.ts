import { describe, expect, it } from 'vitest';
import { RandomStreams, isValidSeed, nextUint32, seedStream } from '../src/random/prng.js';
import { chiSquare, chiSquareCritical } from './stats.js';

describe('xoshiro128** streams', () => {
  it('same seed, same draws; other seed or stream, other draws', () => {
    const a = new RandomStreams(42, 3);
    const b = new RandomStreams(42, 3);
    const c = new RandomStreams(43, 3);
    const da = Array.from({ length: 20 }, () => a.uint32(1));
    expect(Array.from({ length: 20 }, () => b.uint32(1))).toEqual(da);
    expect(Array.from({ length: 20 }, () => c.uint32(1))).not.toEqual(da);
    expect(Array.from({ length: 20 }, () => a.uint32(2))).not.toEqual(da);
  });

  it('stream b does not depend on how many streams exist (batch-size independence)', () => {
    const small = new RandomStreams(7, 2);
    const large = new RandomStreams(7, 9);
    expect(Array.from({ length: 10 }, () => small.uniform(1))).toEqual(Array.from({ length: 10 }, () => large.uniform(1)));
  });

  it('matches the xoshiro128** reference outputs for state [1, 2, 3, 4]', () => {
    const s = Uint32Array.from([1, 2, 3, 4]);
    expect([nextUint32(s, 0), nextUint32(s, 0), nextUint32(s, 0)]).toEqual([11520, 0, 5927040]);
  });

  it('pins the seeding (seed 0, stream 0), so a change to it cannot go unnoticed', () => {
    const s = new Uint32Array(4);
    seedStream(s, 0, 0, 0);
    // A change here changes every seeded image: bump the major version if it is ever intended.
    expect(Array.from({ length: 4 }, () => nextUint32(s, 0))).toEqual([1084691981, 1718536829, 657751865, 1419003086]);
  });

  it('seeds above 2^32 differ in their high word', () => {
    const a = new RandomStreams(1, 1).uint32(0);
    const b = new RandomStreams(1 + 2 ** 32, 1).uint32(0);
    expect(a).not.toBe(b);
  });

  it('uniforms lie in (0, 1) and are uniform (chi-square over 64 bins)', () => {
    const r = new RandomStreams(123, 1);
    const bins = new Float64Array(64);
    const n = 200_000;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform(0);
      min = Math.min(min, u);
      max = Math.max(max, u);
      bins[Math.floor(u * 64)]!++;
    }
    expect(min).toBeGreaterThan(0);
    expect(max).toBeLessThan(1);
    expect(chiSquare(bins, new Float64Array(64).fill(1 / 64), n)).toBeLessThan(chiSquareCritical(63));
  });

  it('Gumbel draws have mean ~ Euler-Mascheroni and variance ~ pi^2/6', () => {
    const r = new RandomStreams(9, 1);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const g = r.gumbel(0);
      s += g;
      s2 += g * g;
    }
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    expect(mean).toBeCloseTo(0.5772, 1);
    expect(variance).toBeCloseTo(Math.PI ** 2 / 6, 1);
  });

  it('validates seeds', () => {
    expect(isValidSeed(0)).toBe(true);
    expect(isValidSeed(Number.MAX_SAFE_INTEGER)).toBe(true);
    for (const bad of [-1, 1.5, Number.NaN, Infinity, '1', 2 ** 53]) expect(isValidSeed(bad)).toBe(false);
  });
});
