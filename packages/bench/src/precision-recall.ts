/**
 * Improved precision and recall in a feature space (Kynkaanniemi et al. 2019, "Improved Precision and Recall
 * Metric for Assessing Generative Models"). Each set's manifold is the union of balls around its points, each
 * ball's radius the distance to that point's k-th nearest neighbour in its own set.
 * - precision: the share of generated points inside the real manifold (fidelity: no samples off the data);
 * - recall: the share of real points inside the generated manifold (variety: no data left uncovered).
 * FD mixes both; these separate them.
 */

/** Points as rows of width `dim` (float32, row-major). */
export interface PointSet {
  readonly data: Float32Array;
  readonly count: number;
  readonly dim: number;
}

/** Squared distances between every row of `a` and every row of `b`: [a.count, b.count] (float64). */
function squaredDistances(a: PointSet, b: PointSet): Float64Array {
  const d = a.dim;
  if (b.dim !== d) throw new Error(`feature widths differ: ${a.dim} and ${b.dim}`);
  const na = new Float64Array(a.count);
  const nb = new Float64Array(b.count);
  for (let i = 0; i < a.count; i++) for (let k = 0; k < d; k++) na[i]! += a.data[i * d + k]! ** 2;
  for (let j = 0; j < b.count; j++) for (let k = 0; k < d; k++) nb[j]! += b.data[j * d + k]! ** 2;
  const out = new Float64Array(a.count * b.count);
  for (let i = 0; i < a.count; i++) {
    const ai = i * d;
    for (let j = 0; j < b.count; j++) {
      const bj = j * d;
      let dot = 0;
      for (let k = 0; k < d; k++) dot += a.data[ai + k]! * b.data[bj + k]!;
      out[i * b.count + j] = Math.max(0, na[i]! + nb[j]! - 2 * dot);
    }
  }
  return out;
}

/**
 * Squared radius of each point's ball: the squared distance to its k-th nearest neighbour in its own set
 * (the point itself not counted).
 */
export function knnRadii(points: PointSet, k: number): Float64Array {
  if (k < 1 || k >= points.count) throw new Error(`k must be from 1 to ${points.count - 1} (the set has ${points.count} points), got ${k}`);
  const dist = squaredDistances(points, points);
  const n = points.count;
  const radii = new Float64Array(n);
  const nearest = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    nearest.fill(Infinity);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const v = dist[i * n + j]!;
      if (v >= nearest[k - 1]!) continue;
      let p = k - 1;
      while (p > 0 && nearest[p - 1]! > v) {
        nearest[p] = nearest[p - 1]!;
        p--;
      }
      nearest[p] = v;
    }
    radii[i] = nearest[k - 1]!;
  }
  return radii;
}

/** The share of `queries` inside the manifold of `support` (balls of squared radii `radii`). */
export function coverage(queries: PointSet, support: PointSet, radii: Float64Array): number {
  const dist = squaredDistances(queries, support);
  let inside = 0;
  for (let i = 0; i < queries.count; i++) {
    for (let j = 0; j < support.count; j++) {
      if (dist[i * support.count + j]! <= radii[j]!) {
        inside++;
        break;
      }
    }
  }
  return inside / queries.count;
}

/** A real set with its balls computed once, to score many generated sets against. */
export interface RealManifold {
  readonly points: PointSet;
  readonly radii: Float64Array;
  readonly k: number;
}

export function realManifold(points: PointSet, k = 3): RealManifold {
  return { points, radii: knnRadii(points, k), k };
}

/** Precision and recall of `generated` against `real` (compare sets of equal size: radii depend on it). */
export function precisionRecall(real: RealManifold, generated: PointSet): { precision: number; recall: number } {
  return {
    precision: coverage(generated, real.points, real.radii),
    recall: coverage(real.points, generated, knnRadii(generated, real.k)),
  };
}
