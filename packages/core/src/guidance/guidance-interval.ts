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
 * keeps both branches everywhere (when the run is guided at all). `history` is how many full steps' features a
 * skipped step combines (`PredictorDefinition.fullStepHistory`): an extrapolation from the last two full steps
 * needs both branches at a full step when the segment of the next full step needs them, too, so that it never
 * combines features of different row counts, and once on both branches it stays there. Where the row count
 * changes, generate() starts the predictor over (an extrapolation then has one full step to go on until the
 * next). With the default cutoff 0 and a weight schedule that is 0 at step 0 only (the linear ramp), no token
 * changes for any predictor; a schedule with several zero-weight segments first can change an extrapolation's
 * tokens in the segment where it switches.
 *
 * @example
 * // vanilla, N = 4, linear ramp to 3: weights 0, 1, 2, 3
 * unconditionalSteps(Float64Array.of(0, 1, 2, 3), Uint8Array.of(1, 1, 1, 1), 0) // [0, 1, 1, 1]
 */
export function unconditionalSteps(weights: Float64Array, fullMask: Uint8Array, cutoff: number | null, history = 1): Uint8Array {
  const N = weights.length;
  const out = new Uint8Array(N);
  if (cutoff === null) return out.fill(1);
  if (!Number.isInteger(history) || history < 1) throw new RangeError(`unconditionalSteps: history must be an integer >= 1, got ${history}`);
  // Segments: a full step and the skipped steps after it. need[k]: some step of segment k has w > cutoff.
  const starts: number[] = [];
  const need: number[] = [];
  for (let i = 0; i < N; i++) {
    if (fullMask[i] === 1 || i === 0) {
      starts.push(i);
      need.push(0);
    }
    if (weights[i]! > cutoff) need[need.length - 1] = 1;
  }
  // A full step's features also feed the skipped steps of the next history - 1 segments. An extrapolating
  // predictor, once on both branches, stays there: going back to the conditional rows would start it over and
  // cost the extrapolation of the segments that follow.
  let both = 0;
  for (let k = 0; k < starts.length; k++) {
    if (history === 1) both = 0;
    for (let j = k; j < Math.min(starts.length, k + history); j++) both |= need[j]!;
    out.fill(both, starts[k]!, k + 1 < starts.length ? starts[k + 1]! : N);
  }
  return out;
}
