import { expNonPositive } from './exp-non-positive.js';

// Per-row (one position, K logits) kernels. They work in float64 scratch rows so that log-probabilities of
// unlikely candidates stay finite, and they never allocate: callers pass scratch buffers sized K.

/**
 * Writes the scaled logits of one position into `out` (length >= K) and returns their maximum:
 * out[k] = invTemp * ((1 + w) * cond[k] - w * uncond[k]), or invTemp * cond[k] when `uncond` is null
 * (classifier-free guidance, PAPER.md section 1).
 */
export function guideRow(
  cond: Float32Array,
  condOffset: number,
  uncond: Float32Array | null,
  uncondOffset: number,
  vocab: number,
  weight: number,
  invTemp: number,
  out: Float64Array,
): number {
  let max = -Infinity;
  if (uncond === null || weight === 0) {
    for (let k = 0; k < vocab; k++) {
      const v = invTemp * cond[condOffset + k]!;
      out[k] = v;
      if (v > max) max = v;
    }
  } else {
    const a = invTemp * (1 + weight);
    const b = invTemp * weight;
    for (let k = 0; k < vocab; k++) {
      const v = a * cond[condOffset + k]! - b * uncond[uncondOffset + k]!;
      out[k] = v;
      if (v > max) max = v;
    }
  }
  return max;
}

/**
 * Replaces row[k] by exp(row[k] - max) in place and returns the sum (the softmax normaliser). `max` must be the
 * row's maximum (entries above it would be outside `expNonPositive`'s contract); -Infinity entries (filtered
 * out by top-k) become exactly 0.
 */
export function expInPlace(row: Float64Array, vocab: number, max: number): number {
  // No early-out for negligible entries: a branch in this loop costs V8 more than the exp it would skip.
  let sum = 0;
  for (let k = 0; k < vocab; k++) {
    const e = expNonPositive(row[k]! - max);
    row[k] = e;
    sum += e;
  }
  return sum;
}

/** log(sum_k exp(row[k])) for a row of scaled logits with known maximum. */
export function logSumExp(row: Float64Array, vocab: number, max: number): number {
  let sum = 0;
  for (let k = 0; k < vocab; k++) sum += expNonPositive(row[k]! - max);
  return max + Math.log(sum);
}

/**
 * Inverse-CDF categorical draw from unnormalised probabilities with total `sum`, using one uniform u in (0, 1).
 * Zero-probability entries are never returned.
 */
export function drawInverseCdf(probs: Float64Array, vocab: number, sum: number, u: number): number {
  const target = u * sum;
  let acc = 0;
  let last = -1;
  for (let k = 0; k < vocab; k++) {
    const p = probs[k]!;
    if (p <= 0) continue;
    acc += p;
    last = k;
    if (acc >= target) return k;
  }
  // Rounding can leave acc a hair below target: the last non-zero entry is the right answer then.
  return last;
}

/**
 * Keeps the k largest entries of a logit row and sets the rest to -Infinity (top-k filtering). Ties at the
 * threshold are all kept. `scratch` (length >= K) is overwritten.
 */
export function filterTopK(row: Float64Array, vocab: number, k: number, scratch: Float64Array): void {
  if (k >= vocab) return;
  for (let i = 0; i < vocab; i++) scratch[i] = row[i]!;
  const threshold = kthLargest(scratch, vocab, k);
  for (let i = 0; i < vocab; i++) if (row[i]! < threshold) row[i] = -Infinity;
}

/**
 * Nucleus (top-p) filtering on unnormalised probabilities: keeps the smallest set of most likely entries whose
 * mass reaches p * sum, zeroes the rest, and returns the new sum. `order` (length >= K) is overwritten.
 */
export function filterTopP(probs: Float64Array, vocab: number, sum: number, p: number, order: Uint32Array): number {
  if (p >= 1) return sum;
  for (let i = 0; i < vocab; i++) order[i] = i;
  const view = order.subarray(0, vocab);
  view.sort((a, b) => probs[b]! - probs[a]! || a - b);
  const target = p * sum;
  let kept = 0;
  let i = 0;
  for (; i < vocab; i++) {
    kept += probs[view[i]!]!;
    if (kept >= target) {
      i++;
      break;
    }
  }
  for (; i < vocab; i++) probs[view[i]!] = 0;
  return kept;
}

/** k-th largest value (1-based) of values[0..n) by quickselect; reorders `values`. */
export function kthLargest(values: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! > pivot) i++;
      while (values[j]! < pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return values[target]!;
  }
  return values[target]!;
}
