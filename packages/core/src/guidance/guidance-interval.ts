/**
 * Which steps run the unconditional branch, for a guidance cutoff ("guidance only where it matters", as in
 * eMIGM's time-interval guidance). A step whose weight w is at most `cutoff` needs no unconditional logits:
 * (1 + w) cond - w uncond is cond at w = 0, and dropping a small w is the approximation the cutoff allows.
 *
 * A skipped step's feature comes from the features of the full step before it (the predictors extrapolate
 * both branches), so a full step must run the unconditional branch when any step it feeds (itself and the
 * skipped steps up to the next full step) has w > cutoff; its skipped steps then follow it. With the default
 * cutoff 0 this changes no token: it only removes unconditional rows whose logits nobody reads (vanilla's
 * step 0 under the linear ramp).
 *
 * Returns 1 per step that runs both branches, 0 per step that runs the conditional rows only. `cutoff` null
 * keeps both branches everywhere (when the run is guided at all). With `spansFullSteps` (a predictor that
 * combines several full steps' features, whose rows must match) every step runs both branches as soon as one
 * step needs them.
 *
 * @example
 * // vanilla, N = 4, linear ramp to 3: weights 0, 1, 2, 3
 * unconditionalSteps(Float64Array.of(0, 1, 2, 3), Uint8Array.of(1, 1, 1, 1), 0) // [0, 1, 1, 1]
 */
export function unconditionalSteps(weights: Float64Array, fullMask: Uint8Array, cutoff: number | null, spansFullSteps = false): Uint8Array {
  const N = weights.length;
  const out = new Uint8Array(N);
  if (cutoff === null) return out.fill(1);
  // An extrapolating predictor combines features of several full steps: they must all have the same rows.
  if (spansFullSteps) return out.fill(weights.some((w) => w > cutoff) ? 1 : 0);
  // Walk segments backwards: a segment is a full step and the skipped steps after it.
  let need = 0;
  for (let i = N - 1; i >= 0; i--) {
    if (weights[i]! > cutoff) need = 1;
    if (fullMask[i] === 1) {
      for (let j = i; j < N && (j === i || fullMask[j] !== 1); j++) out[j] = need;
      need = 0;
    }
  }
  return out;
}
