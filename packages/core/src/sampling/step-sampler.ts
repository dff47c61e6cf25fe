import { MigmError } from '../errors.js';
import { nextGumbel, nextUniform, type RandomStreams } from '../random/prng.js';
import { drawInverseCdf, expInPlace, filterTopK, filterTopP, guideRow } from './row.js';

/** How a candidate token is drawn from its distribution. Both give exact samples; they use the PRNG differently. */
export type DrawMethod = 'inverse-cdf' | 'gumbel-max';

/** Scratch memory of the step sampler, allocated once per generation run. */
export interface SamplerScratch {
  readonly row: Float64Array;
  readonly aux: Float64Array;
  readonly order: Uint32Array;
  /** Candidate token per [image, position] (only masked positions are written). */
  readonly candidates: Int32Array;
  /** Confidence per [image, position] (only masked positions are written). */
  readonly confidence: Float64Array;
  /** log p of the candidate per [image, position], without the confidence noise (masked positions only). */
  readonly logProb: Float64Array;
  /** Per-image list of masked positions, reused by the selection. */
  readonly positions: Int32Array;
}

export function createSamplerScratch(batch: number, tokens: number, vocab: number): SamplerScratch {
  return {
    row: new Float64Array(vocab),
    aux: new Float64Array(vocab),
    order: new Uint32Array(vocab),
    candidates: new Int32Array(batch * tokens),
    confidence: new Float64Array(batch * tokens),
    logProb: new Float64Array(batch * tokens),
    positions: new Int32Array(tokens),
  };
}

/** Parameters of one sampling pass over a batch. */
export interface SampleParams {
  /** Raw logits [rows, L, K]: rows 0..B-1 conditional, rows B..2B-1 unconditional when `guided`. */
  readonly logits: Float32Array;
  readonly guided: boolean;
  readonly batch: number;
  readonly tokens: number;
  readonly vocab: number;
  /** Current token grid [B, L]; positions equal to maskId are sampled. */
  readonly state: Int32Array;
  readonly maskId: number;
  /** Guidance weight w of this step. */
  readonly weight: number;
  /** Inverse temperature multiplying the (guided) logits before softmax. */
  readonly invTemp: number;
  /** Scale of the Gumbel noise added to log p for the confidence (r_temp times the annealing factor). */
  readonly noiseScale: number;
  readonly draw: DrawMethod;
  /** Keep only the k most likely tokens (0 = off). */
  readonly topK: number;
  /** Keep the smallest most-likely set with this mass (1 = off). */
  readonly topP: number;
  readonly rng: RandomStreams;
}

/**
 * Draws a candidate for every masked position of every image and scores it:
 * confidence = log p(candidate) + noiseScale * Gumbel. Per image, positions are visited in increasing order
 * and each consumes its draw (1 uniform for inverse-CDF, K for Gumbel-max) and then one Gumbel, from that
 * image's own stream, so results do not depend on the batch size.
 */
export function sampleMaskedPositions(p: SampleParams, s: SamplerScratch): void {
  const { logits, batch, tokens, vocab, state, maskId, rng } = p;
  const { row, aux, order, candidates, confidence, logProb } = s;
  const rowStride = tokens * vocab;
  const gumbelMax = p.draw === 'gumbel-max';
  for (let b = 0; b < batch; b++) {
    const rngOffset = 4 * b;
    for (let pos = 0; pos < tokens; pos++) {
      const at = b * tokens + pos;
      if (state[at] !== maskId) continue;
      const condOffset = b * rowStride + pos * vocab;
      const uncond = p.guided ? logits : null;
      const max = guideRow(logits, condOffset, uncond, condOffset + batch * rowStride, vocab, p.weight, p.invTemp, row);
      if (p.topK > 0) filterTopK(row, vocab, p.topK, aux);
      let sum = expInPlace(row, vocab, max);
      // NaN or infinite logits make every later number meaningless (the draw would pick the last token):
      // one comparison per position catches them all, since they turn the softmax sum into NaN.
      if (!(sum > 0 && sum < Infinity)) throw nonFiniteLogits(b, pos);
      if (p.topP < 1) sum = filterTopP(row, vocab, sum, p.topP, order);
      let pick: number;
      if (gumbelMax) {
        pick = -1;
        let best = -Infinity;
        for (let k = 0; k < vocab; k++) {
          const g = nextGumbel(rng.state, rngOffset);
          const prob = row[k]!;
          if (prob <= 0) continue;
          const score = Math.log(prob) + g;
          if (score > best) {
            best = score;
            pick = k;
          }
        }
      } else {
        pick = drawInverseCdf(row, vocab, sum, nextUniform(rng.state, rngOffset));
      }
      candidates[at] = pick;
      const lp = Math.log(row[pick]! / sum);
      logProb[at] = lp;
      confidence[at] = lp + p.noiseScale * nextGumbel(rng.state, rngOffset);
    }
  }
}

/** The error every sampler (host or device) gives for NaN or infinite logits at one position. */
export function nonFiniteLogits(image: number, position: number): MigmError {
  return new MigmError(
    'BACKEND_FAILURE',
    `The model returned logits that are not finite (NaN or infinite) for image ${image}, position ${position}; refusing to sample from them. The bundle's weights or the runtime produced them (sampling options are bounded so that they cannot).`,
    { details: { image, position } },
  );
}

/**
 * Commits, for each image, the `count` masked positions with the highest confidence (ties: lower position
 * first). Their candidates are written into `state`; the committed positions (ascending) and token ids go to
 * `revealedPositions` / `revealedTokens` [B, k] with k = min(count, masked). Returns k.
 */
export function commitTopConfidence(
  state: Int32Array,
  maskId: number,
  batch: number,
  tokens: number,
  count: number,
  s: SamplerScratch,
  revealedPositions: Int32Array,
  revealedTokens: Int32Array,
): number {
  const { candidates, confidence, positions } = s;
  // Every image has the same number of masked positions (one schedule for the batch), so one k is the
  // stride of the revealed buffers for all of them.
  let masked0 = 0;
  for (let pos = 0; pos < tokens; pos++) if (state[pos] === maskId) masked0++;
  const k = Math.min(count, masked0);
  for (let b = 0; b < batch; b++) {
    const base = b * tokens;
    let m = 0;
    for (let pos = 0; pos < tokens; pos++) if (state[base + pos] === maskId) positions[m++] = pos;
    selectTop(positions, m, k, confidence, base);
    const chosen = positions.subarray(0, k);
    chosen.sort();
    for (let j = 0; j < k; j++) {
      const pos = chosen[j]!;
      const token = candidates[base + pos]!;
      state[base + pos] = token;
      revealedPositions[b * k + j] = pos;
      revealedTokens[b * k + j] = token;
    }
  }
  return k;
}

/** Higher confidence first; ties broken by lower position, so selection is deterministic. */
function before(confidence: Float64Array, base: number, a: number, b: number): boolean {
  const ca = confidence[base + a]!;
  const cb = confidence[base + b]!;
  return ca > cb || (ca === cb && a < b);
}

/** Partially orders idx[0..n) so that its first k entries are the k best (quickselect, no allocation). */
function selectTop(idx: Int32Array, n: number, k: number, confidence: Float64Array, base: number): void {
  if (k <= 0 || k >= n) return;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = idx[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (before(confidence, base, idx[i]!, pivot)) i++;
      while (before(confidence, base, pivot, idx[j]!)) j--;
      if (i <= j) {
        const t = idx[i]!;
        idx[i] = idx[j]!;
        idx[j] = t;
        i++;
        j--;
      }
    }
    if (k - 1 <= j) hi = j;
    else if (k - 1 >= i) lo = i;
    else return;
  }
}
