import { checkStepsTokens } from './maskgit.js';

const f32 = Math.fround;
// PyTorch multiplies a float32 tensor by the Python float pi in float32.
const PI_F32 = f32(Math.PI);

/**
 * aMUSEd's masking counts (diffusers' `AmusedScheduler`, cosine schedule): after step i < N-1,
 * floor(L cos(pi/2 (i+1)/N)) positions stay masked, clamped to at most (masked - 1) and at least 1; the last step
 * reveals all. Evaluated in float32 as PyTorch does it (ratio, angle, cosine and L * cos are float32 tensors), so
 * a floor at an integer boundary lands where the reference's does. Returns per-step reveal counts summing to L.
 *
 * @example cosineFloorCounts(12, 256) // [3, 6, 11, 15, 18, 22, 26, 28, 30, 31, 33, 33]
 */
export function cosineFloorCounts(steps: number, tokens: number): Int32Array {
  checkStepsTokens(steps, tokens);
  const counts = new Int32Array(steps);
  let masked = tokens;
  for (let i = 0; i < steps - 1; i++) {
    const ratio = f32((i + 1) / steps);
    const angle = f32(f32(ratio * PI_F32) / 2);
    let keep = Math.floor(f32(tokens * f32(Math.cos(angle))));
    keep = Math.max(1, Math.min(masked - 1, keep));
    counts[i] = masked - keep;
    masked = keep;
  }
  counts[steps - 1] = masked;
  return counts;
}
