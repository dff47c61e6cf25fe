import { RandomStreams } from '@migm/core/sampling';
import { describe, expect, it } from 'vitest';
import { coverage, knnRadii, precisionRecall, realManifold, type PointSet } from '../src/precision-recall.js';

function cloud(n: number, dim: number, centre: readonly number[], scale: number, seed: number): PointSet {
  const rng = new RandomStreams(seed, 1);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      const z = Math.sqrt(-2 * Math.log(rng.uniform(0))) * Math.cos(2 * Math.PI * rng.uniform(0));
      data[i * dim + d] = centre[d]! + scale * z;
    }
  }
  return { data, count: n, dim };
}

function join(a: PointSet, b: PointSet): PointSet {
  const data = new Float32Array(a.data.length + b.data.length);
  data.set(a.data);
  data.set(b.data, a.data.length);
  return { data, count: a.count + b.count, dim: a.dim };
}

describe('k-NN radii', () => {
  it('is the squared distance to the k-th nearest other point', () => {
    // points on a line at 0, 1, 3, 7
    const line: PointSet = { data: Float32Array.from([0, 1, 3, 7]), count: 4, dim: 1 };
    expect([...knnRadii(line, 1)]).toEqual([1, 1, 4, 16]);
    expect([...knnRadii(line, 2)]).toEqual([9, 4, 9, 36]);
    expect(() => knnRadii(line, 4)).toThrow(/k must be from 1 to 3/);
  });
  it('counts a query inside a ball on its boundary', () => {
    const support: PointSet = { data: Float32Array.from([0, 10]), count: 2, dim: 1 };
    const radii = Float64Array.from([4, 1]);
    expect(coverage({ data: Float32Array.from([2, 2.1, 9, 11.5]), count: 4, dim: 1 }, support, radii)).toBe(0.5);
  });
});

describe('improved precision and recall on point clouds with a known answer', () => {
  const dim = 8;
  const a = cloud(300, dim, new Array(dim).fill(0), 1, 1);
  const b = cloud(300, dim, new Array(dim).fill(40), 1, 2);
  const real = join(a, b); // two far-apart modes
  const manifold = realManifold(real, 3);

  it('copies of the real set: precision = recall = 1', () => {
    expect(precisionRecall(manifold, real)).toEqual({ precision: 1, recall: 1 });
  });
  it('a set far from the data: precision = recall = 0', () => {
    expect(precisionRecall(manifold, cloud(600, dim, new Array(dim).fill(-100), 1, 3))).toEqual({ precision: 0, recall: 0 });
  });
  it('one mode of two, dropped the other (mode collapse): precision 1, recall 1/2', () => {
    // Each real point of mode a is a sample, so its own ball holds it; mode b is 40 * sqrt(8) away from every sample.
    const r = precisionRecall(manifold, join(a, a));
    expect(r.precision).toBe(1);
    expect(r.recall).toBe(0.5);
  });
  it('the data plus as many samples off it: precision 1/2, recall 1', () => {
    const r = precisionRecall(manifold, join(a, join(b, cloud(600, dim, new Array(dim).fill(-100), 1, 4))));
    expect(r.precision).toBe(0.5);
    expect(r.recall).toBe(1);
  });
  it('fresh draws of the same distribution score high on both; a narrower one keeps precision and loses recall', () => {
    const same = precisionRecall(manifold, join(cloud(300, dim, new Array(dim).fill(0), 1, 5), cloud(300, dim, new Array(dim).fill(40), 1, 6)));
    expect(same.precision).toBeGreaterThan(0.6);
    expect(same.recall).toBeGreaterThan(0.6);
    const narrow = precisionRecall(manifold, join(cloud(300, dim, new Array(dim).fill(0), 0.3, 7), cloud(300, dim, new Array(dim).fill(40), 0.3, 8)));
    expect(narrow.precision).toBeGreaterThan(0.95);
    expect(narrow.recall).toBeLessThan(same.recall / 2);
  });
});
