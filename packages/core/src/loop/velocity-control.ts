import type { VelocityControl } from '../backend/types.js';

/**
 * The learned shortcut's control for a skipped step: the tokens and positions each image revealed at the
 * previous step, and the mask ratio after it, for every row the predicted feature has (both guidance branches
 * get the same control). Buffers are made once per run and reused by every step.
 */
export class ControlBuffers {
  readonly #tokens: Int32Array;
  readonly #positions: Int32Array;
  readonly #ratio: Float32Array;

  constructor(
    private readonly batch: number,
    maxRows: number,
    maxReveal: number,
  ) {
    this.#tokens = new Int32Array(maxRows * maxReveal);
    this.#positions = new Int32Array(maxRows * maxReveal);
    this.#ratio = new Float32Array(maxRows);
  }

  /**
   * The control of `rows` rows (B, or 2B: the conditional rows' control repeated for the guidance rows) from
   * the previous step's reveal [B, n] and the mask ratio after it. Views into the buffers: valid until the next call.
   */
  build(positions: Int32Array, tokens: Int32Array, n: number, ratio: number, rows: number): VelocityControl {
    const B = this.batch;
    this.#tokens.set(tokens.subarray(0, B * n));
    this.#positions.set(positions.subarray(0, B * n));
    if (rows === 2 * B) {
      this.#tokens.copyWithin(B * n, 0, B * n);
      this.#positions.copyWithin(B * n, 0, B * n);
    }
    this.#ratio.fill(ratio);
    return { tokens: this.#tokens.subarray(0, rows * n), positions: this.#positions.subarray(0, rows * n), count: n, ratio: this.#ratio.subarray(0, rows) };
  }
}
