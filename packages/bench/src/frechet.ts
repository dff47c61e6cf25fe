import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** Running mean and covariance of feature vectors (float64, one pass over batches). */
export class FeatureStats {
  readonly dim: number;
  count = 0;
  readonly #sum: Float64Array;
  readonly #outer: Float64Array;

  constructor(dim: number) {
    this.dim = dim;
    this.#sum = new Float64Array(dim);
    this.#outer = new Float64Array(dim * dim);
  }

  /** Adds `n` feature rows of width `dim`. */
  add(features: Float32Array, n: number): void {
    const d = this.dim;
    for (let r = 0; r < n; r++) {
      const o = r * d;
      for (let i = 0; i < d; i++) {
        const xi = features[o + i]!;
        this.#sum[i]! += xi;
        for (let j = i; j < d; j++) this.#outer[i * d + j]! += xi * features[o + j]!;
      }
    }
    this.count += n;
  }

  mean(): Float64Array {
    return this.#sum.map((s) => s / this.count);
  }

  /** Unbiased covariance (n - 1), as numpy.cov. */
  covariance(): Matrix {
    const d = this.dim;
    const mu = this.mean();
    const c = new Matrix(d, d);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const v = (this.#outer[i * d + j]! - this.count * mu[i]! * mu[j]!) / (this.count - 1);
        c.set(i, j, v);
        c.set(j, i, v);
      }
    }
    return c;
  }
}

/**
 * Frechet distance between two Gaussians fitted to features: |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).
 * Tr((S1 S2)^(1/2)) is the sum of square roots of the eigenvalues of S1^(1/2) S2 S1^(1/2) (symmetric PSD).
 */
export function frechetDistance(a: FeatureStats, b: FeatureStats): number {
  const mu1 = a.mean();
  const mu2 = b.mean();
  let diff = 0;
  for (let i = 0; i < mu1.length; i++) diff += (mu1[i]! - mu2[i]!) ** 2;
  const s1 = a.covariance();
  const s2 = b.covariance();
  const root1 = sqrtPsd(s1);
  const inner = root1.mmul(s2).mmul(root1);
  const sym = inner.add(inner.transpose()).div(2);
  const eig = new EigenvalueDecomposition(sym, { assumeSymmetric: true }).realEigenvalues;
  const trSqrt = eig.reduce((acc, v) => acc + Math.sqrt(Math.max(v, 0)), 0);
  return diff + s1.trace() + s2.trace() - 2 * trSqrt;
}

function sqrtPsd(m: Matrix): Matrix {
  const e = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const v = e.eigenvectorMatrix;
  const d = Matrix.diag(e.realEigenvalues.map((x) => Math.sqrt(Math.max(x, 0))));
  return v.mmul(d).mmul(v.transpose());
}
