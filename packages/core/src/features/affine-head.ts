import { isMigmError, MigmError } from '../errors.js';
import type { Manifest } from '../manifest/types.js';
import { RandomStreams } from '../random/prng.js';

/**
 * Largest allowed |head(z) - (a head(x) + (1 - a) head(y))| relative to the logits' scale. float32 rounding of a
 * 128-wide dot product stays near 1e-6 of it; a head with any non-linearity (GELU, LayerNorm) misses by far more.
 */
export const AFFINE_HEAD_TOLERANCE = 1e-4;

/** Extrapolation coefficient of the check: like guidance (1 + w) with w = 2.5, outside [0, 1] on purpose. */
const A = 3.5;

/**
 * Checks a bundle's claim that its head is affine (`graphs.head.affine`) before a backend relies on it for
 * `guidedHead`: runs `head` once on three rows x, y and a x + (1 - a) y (seeded pseudo-random features,
 * a = 3.5) and throws `BUNDLE_MISMATCH` when head(z) is not a head(x) + (1 - a) head(y).
 *
 * @param head - runs the bundle's head graph on a host feature [rows, L, D] and returns logits [rows, L, K].
 */
export async function checkAffineHead(manifest: Manifest, head: (feature: Float32Array, rows: number) => Promise<Float32Array>): Promise<void> {
  const L = manifest.tokens.count;
  const D = manifest.featureDim;
  const K = manifest.tokens.codebookSize;
  const n = L * D;
  const feature = new Float32Array(3 * n);
  const rng = new RandomStreams(20261126, 1);
  for (let i = 0; i < 2 * n; i++) feature[i] = 2 * rng.uniform(0) - 1;
  for (let i = 0; i < n; i++) feature[2 * n + i] = A * feature[i]! + (1 - A) * feature[n + i]!;
  const logits = await head(feature, 3);
  if (logits.length !== 3 * L * K) {
    throw new MigmError('BUNDLE_MISMATCH', `${manifest.graphs.head.file}: the head returned ${logits.length} logits for 3 rows, expected ${3 * L * K}.`);
  }
  const m = L * K;
  let scale = 1;
  let worst = 0;
  for (let i = 0; i < m; i++) {
    const expected = A * logits[i]! + (1 - A) * logits[m + i]!;
    const got = logits[2 * m + i]!;
    const d = Math.abs(got - expected);
    // A NaN or infinite logit is as far from affine as it gets (and must not poison the scale).
    if (!Number.isFinite(d)) {
      worst = Infinity;
      continue;
    }
    scale = Math.max(scale, Math.abs(expected), Math.abs(got));
    worst = Math.max(worst, d);
  }
  if (!(worst <= AFFINE_HEAD_TOLERANCE * scale)) {
    throw new MigmError(
      'BUNDLE_MISMATCH',
      `${manifest.graphs.head.file}: the manifest declares graphs.head.affine, but head(a x + (1 - a) y) differs from a head(x) + (1 - a) head(y) by ${worst.toPrecision(3)} (allowed ${(AFFINE_HEAD_TOLERANCE * scale).toPrecision(3)}); remove "affine" from the manifest or export an affine head.`,
    );
  }
}

/**
 * What a backend does with a head the manifest declares affine, when it loads: runs {@link checkAffineHead} and
 * returns true when `guidedHead` may be used. A head that fails the check (a wrong manifest, or a provider whose
 * float32 matmul is TF32) still samples correctly through `head()`, so that is a warning handed to `onWarning`
 * and false, not an error. Other failures (the head graph cannot run) are thrown. Like all of core it prints
 * nothing: without `onWarning` the warning is dropped (a backend keeps it, e.g. backend-ort's `warnings`).
 *
 * @example
 * const warnings: string[] = [];
 * const usable = await affineHeadUsable(manifest, runHead, (w) => warnings.push(w));
 */
export async function affineHeadUsable(
  manifest: Manifest,
  head: (feature: Float32Array, rows: number) => Promise<Float32Array>,
  onWarning?: (message: string) => void,
): Promise<boolean> {
  try {
    await checkAffineHead(manifest, head);
    return true;
  } catch (err) {
    if (!isMigmError(err, 'BUNDLE_MISMATCH')) throw err;
    onWarning?.(`${err.message} Skipped steps run the head on both guidance branches instead.`);
    return false;
  }
}
