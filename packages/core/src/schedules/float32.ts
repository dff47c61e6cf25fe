// Helpers that reproduce PyTorch float32 arithmetic exactly (each op rounded to float32), so schedules agree
// token for token with the reference implementation.

const f32 = Math.fround;

/** Round half to even (banker's rounding), as torch.round and Python's round do. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; step back when that made an odd number from an exact tie.
  if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/** torch.linspace(start, end, steps) in float32 (CPU kernel: first half from start, second half from end). */
export function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = f32(f32(end - start) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    out[i] = i < halfway ? f32(start + f32(step * i)) : f32(end - f32(step * (steps - i - 1)));
  }
  return out;
}

/** float32 sum in index order. */
export function sumF32(values: Float32Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s = f32(s + values[i]!);
  return s;
}
