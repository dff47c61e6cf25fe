import { checkStepsTokens } from './maskgit.js';

/**
 * Lumina-DiMOO keep-masked schedule: after step s < N-1, floor(L * cos(pi/2 * (s+1)/N)) tokens (at least 1)
 * stay masked; after the last step none do.
 */
export function dimooKeepMasked(steps: number, tokens: number): Int32Array {
  checkStepsTokens(steps, tokens);
  const keep = new Int32Array(steps);
  for (let s = 0; s < steps - 1; s++) {
    keep[s] = Math.max(1, Math.floor(tokens * Math.cos((Math.PI / 2) * ((s + 1) / steps))));
  }
  keep[steps - 1] = 0;
  return keep;
}

/** Converts a keep-masked schedule into per-step reveal counts. Non-increasing keep makes counts >= 0. */
export function keepMaskedToCounts(keep: Int32Array, tokens: number): Int32Array {
  const counts = new Int32Array(keep.length);
  let masked = tokens;
  for (let s = 0; s < keep.length; s++) {
    counts[s] = masked - keep[s]!;
    masked = keep[s]!;
  }
  return counts;
}
