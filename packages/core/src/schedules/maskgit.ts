import { invalidOption } from '../errors.js';
import { linspaceF32, roundHalfEven, sumF32 } from './float32.js';

const f32 = Math.fround;

/** Shapes of the MaskGIT token-count schedules. */
export const MASKGIT_SCHEDULES = ['arccos', 'cosine', 'linear', 'square', 'root'] as const;
export type MaskgitScheduleName = (typeof MASKGIT_SCHEDULES)[number];

/** The "fraction to reveal" curve v(r) of each shape, evaluated in float32 on r = linspace(1, 0, N). */
const CURVES: Record<MaskgitScheduleName, (r: number) => number> = {
  arccos: (r) => f32(f32(Math.acos(r)) / f32(Math.PI * 0.5)),
  cosine: (r) => f32(Math.cos(f32(f32(r * f32(Math.PI)) * 0.5))),
  linear: (r) => f32(1 - r),
  square: (r) => f32(1 - f32(r * r)),
  root: (r) => f32(1 - f32(Math.sqrt(r))),
};

/**
 * MaskGIT token counts: how many tokens step i reveals, for N steps over L tokens.
 * r = linspace(1, 0, N); v = curve(r); k = round(v / sum(v) * L) (float32, half to even); zeros become 1;
 * the last entry absorbs the remainder so that sum(k) = L.
 *
 * @example tokenCounts('arccos', 15, 1024) // [1, 26, 38, 46, 54, 61, 67, 73, 79, 84, 89, 94, 99, 104, 109]
 */
export function tokenCounts(shape: MaskgitScheduleName, steps: number, tokens: number): Int32Array {
  checkStepsTokens(steps, tokens);
  const curve = CURVES[shape];
  if (curve === undefined) throw invalidOption('schedule', shape, `allowed: ${MASKGIT_SCHEDULES.join(', ')}`);
  const r = linspaceF32(1, 0, steps);
  const v = new Float32Array(steps);
  for (let i = 0; i < steps; i++) v[i] = curve(r[i]!);
  const total = sumF32(v);
  const counts = new Int32Array(steps);
  let sum = 0;
  for (let i = 0; i < steps; i++) {
    // N = 1 gives v = [0] and a zero total (NaN in PyTorch); count 0 here, and the fix-ups below make it [L].
    const k = total === 0 ? 0 : roundHalfEven(f32(f32(v[i]! / total) * tokens));
    counts[i] = k === 0 ? 1 : k;
    sum += counts[i]!;
  }
  counts[steps - 1]! += tokens - sum;
  // With N close to L the "zeros become 1" fix-up overshoots and the reference formula leaves a last count
  // < 1 (PyTorch returns it negative). Only then, move the excess off the latest of the largest counts.
  while (counts[steps - 1]! < 1) {
    let j = 0;
    for (let i = 1; i < steps - 1; i++) if (counts[i]! >= counts[j]!) j = i;
    counts[j]!--;
    counts[steps - 1]!++;
  }
  return counts;
}

export function checkStepsTokens(steps: number, tokens: number): void {
  if (!Number.isInteger(tokens) || tokens < 1) throw invalidOption('tokens', tokens, 'an integer >= 1 is allowed');
  if (!Number.isInteger(steps) || steps < 1 || steps > tokens) {
    throw invalidOption('steps', steps, `an integer from 1 to the number of tokens (${tokens}) is allowed`);
  }
}
