import { invalidOption } from '../errors.js';
import { dimooKeepMasked, keepMaskedToCounts } from './dimoo.js';
import { cosineFloorCounts } from './cosine-floor.js';
import { MASKGIT_SCHEDULES, tokenCounts, type MaskgitScheduleName } from './maskgit.js';

/**
 * A masking schedule, as data: a MaskGIT shape name, the DiMOO keep-masked cosine, aMUSEd's 'cosine-floor'
 * (`cosineFloorCounts`), or explicit per-step reveal counts (length N, each >= 1, summing to L).
 */
export type Schedule = MaskgitScheduleName | 'dimoo' | 'cosine-floor' | { readonly counts: ArrayLike<number> };

/** Per-step reveal counts for a schedule: `counts[i]` tokens are committed at step i; they sum to L. */
export function resolveSchedule(schedule: Schedule, steps: number, tokens: number): Int32Array {
  if (typeof schedule === 'string') {
    if (schedule === 'dimoo') return keepMaskedToCounts(dimooKeepMasked(steps, tokens), tokens);
    if (schedule === 'cosine-floor') return cosineFloorCounts(steps, tokens);
    if ((MASKGIT_SCHEDULES as readonly string[]).includes(schedule)) return tokenCounts(schedule, steps, tokens);
    throw invalidOption('schedule', schedule, `allowed: ${MASKGIT_SCHEDULES.join(', ')}, dimoo, cosine-floor, or { counts: number[] }`);
  }
  const counts = (schedule as { counts?: ArrayLike<number> } | null)?.counts;
  if (counts == null || typeof counts.length !== 'number') {
    throw invalidOption('schedule', schedule, `allowed: ${MASKGIT_SCHEDULES.join(', ')}, dimoo, cosine-floor, or { counts: number[] }`);
  }
  if (counts.length !== steps) {
    throw invalidOption('schedule.counts', counts, `its length must equal steps (${steps})`);
  }
  const out = new Int32Array(steps);
  let sum = 0;
  for (let i = 0; i < steps; i++) {
    const k = counts[i]!;
    if (!Number.isInteger(k) || k < 1) {
      throw invalidOption(`schedule.counts[${i}]`, k, 'each count must be an integer >= 1');
    }
    out[i] = k;
    sum += k;
  }
  if (sum !== tokens) {
    throw invalidOption('schedule.counts', counts, `the counts must sum to the number of tokens (${tokens}), they sum to ${sum}`);
  }
  return out;
}
