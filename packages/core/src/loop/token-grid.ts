import { commitTopConfidence, type SamplerScratch } from '../sampling/step-sampler.js';

/**
 * The run's token grid [B, L] and the commit of each step's revealed tokens into it. Every image has the same
 * number of masked positions (one schedule for the batch), so one `lastRevealed` is the stride of the revealed
 * buffers [B, lastRevealed] for all of them.
 */
export class TokenGrid {
  /** Token ids [B, L]; masked positions hold the mask id. Returned as the result's tokens. */
  readonly state: Int32Array;
  /** Positions committed at the last step [B, lastRevealed], ascending per image (buffers sized for the largest step). */
  readonly revealedPositions: Int32Array;
  /** Token ids committed at the last step [B, lastRevealed]. */
  readonly revealedTokens: Int32Array;
  /** Tokens each image committed at the last step. */
  lastRevealed = 0;
  /** Tokens still masked per image. */
  masked: number;

  constructor(
    readonly batch: number,
    readonly tokens: number,
    readonly maskId: number,
    maxReveal: number,
  ) {
    this.state = new Int32Array(batch * tokens).fill(maskId);
    this.revealedPositions = new Int32Array(batch * maxReveal);
    this.revealedTokens = new Int32Array(batch * maxReveal);
    this.masked = tokens;
  }

  /** Host sampler: commits the `count` most confident candidates of each image (see `commitTopConfidence`). */
  commitTopConfidence(count: number, scratch: SamplerScratch): void {
    this.#revealed(commitTopConfidence(this.state, this.maskId, this.batch, this.tokens, count, scratch, this.revealedPositions, this.revealedTokens));
  }

  /** Device sampler: writes the k positions and ids per image it chose (already in the revealed buffers) into the grid. */
  commitRevealed(k: number): void {
    const { state, tokens: L, revealedPositions, revealedTokens } = this;
    for (let b = 0; b < this.batch; b++) for (let j = 0; j < k; j++) state[b * L + revealedPositions[b * k + j]!] = revealedTokens[b * k + j]!;
    this.#revealed(k);
  }

  /** The last step's committed positions [B, lastRevealed] (a live view). */
  positions(): Int32Array {
    return this.revealedPositions.subarray(0, this.batch * this.lastRevealed);
  }

  /** The last step's committed token ids [B, lastRevealed] (a live view). */
  ids(): Int32Array {
    return this.revealedTokens.subarray(0, this.batch * this.lastRevealed);
  }

  #revealed(k: number): void {
    this.lastRevealed = k;
    this.masked -= k;
  }
}
