import { nextUniform, type RandomStreams } from '../random/prng.js';
import type { DeviceSampleStep } from '../backend/types.js';
import { drawInverseCdf, expInPlace, guideRow } from './row.js';
import { commitTopConfidence, nonFiniteLogits, type SamplerScratch } from './step-sampler.js';

/**
 * Draws one step's random numbers for a device sampler: for each image, its masked positions in increasing order
 * take two uniforms from that image's stream, the candidate's and the confidence noise's. That is exactly the
 * order in which the host sampler (`sampleMaskedPositions` with the inverse-CDF draw) consumes them, so a seed
 * gives the same tokens whichever sampler runs. Writes out[(b * L + p) * 2 + j]; unmasked entries become 0.
 */
export function drawStepUniforms(state: Int32Array, maskId: number, batch: number, tokens: number, rng: RandomStreams, out: Float64Array): void {
  const rs = rng.state;
  for (let b = 0; b < batch; b++) {
    const off = 4 * b;
    for (let pos = 0; pos < tokens; pos++) {
      const at = b * tokens + pos;
      if (state[at] !== maskId) {
        out[2 * at] = 0;
        out[2 * at + 1] = 0;
        continue;
      }
      out[2 * at] = nextUniform(rs, off);
      out[2 * at + 1] = nextUniform(rs, off);
    }
  }
}

/**
 * The reference of the `sampleStep` contract, on host logits [rows, L, K]: what a device sampler must return for
 * the same step (and what the in-memory test backend runs). `step.state` is read only: the commit happens on
 * `stateCopy` [B, L]; the revealed arrays are written. Returns k. Non-finite logits throw `BACKEND_FAILURE`.
 */
export function sampleStepHost(
  logits: Float32Array,
  tokens: number,
  vocab: number,
  maskId: number,
  step: DeviceSampleStep,
  scratch: SamplerScratch,
  stateCopy: Int32Array,
): number {
  const { batch, state, uniforms } = step;
  const { row, candidates, confidence } = scratch;
  const rowStride = tokens * vocab;
  for (let b = 0; b < batch; b++) {
    for (let pos = 0; pos < tokens; pos++) {
      const at = b * tokens + pos;
      if (state[at] !== maskId) continue;
      const condOffset = b * rowStride + pos * vocab;
      const max = guideRow(logits, condOffset, step.guided ? logits : null, condOffset + batch * rowStride, vocab, step.weight, step.invTemp, row);
      const sum = expInPlace(row, vocab, max);
      if (!(sum > 0 && sum < Infinity)) throw nonFiniteLogits(b, pos);
      const pick = drawInverseCdf(row, vocab, sum, uniforms[2 * at]!);
      candidates[at] = pick;
      confidence[at] = Math.log(row[pick]! / sum) + step.noiseScale * -Math.log(-Math.log(uniforms[2 * at + 1]!));
    }
  }
  stateCopy.set(state.subarray(0, batch * tokens));
  return commitTopConfidence(stateCopy, maskId, batch, tokens, step.count, scratch, step.revealedPositions, step.revealedTokens);
}
