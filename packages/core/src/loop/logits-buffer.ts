import type { Backend, DeviceLogits } from '../backend/types.js';

/**
 * Where a run's logits live, and what they hold. They live on the device (a `DeviceLogits` made by `open`) or
 * in one host buffer [rows, L, K], never both, and are reused by every step. After a forward or a head they are
 * raw rows (guided at sampling when they are the doubled batch); after a `guidedHead` they are B rows already
 * guided at that head's weight.
 */
export class LogitsBuffer {
  /** The host buffer (empty when the logits live on the device). */
  readonly host: Float32Array;
  #device: DeviceLogits | null = null;
  /** The weight a guidedHead already applied to rows 0..B-1, or null when the rows are raw. */
  #weight: number | null = null;
  /** Rows of logits held: 2B ([cond; uncond]) or B. */
  #rows: number;

  constructor(
    private readonly backend: Backend,
    private readonly batch: number,
    private readonly maxRows: number,
    private readonly rowSize: number,
    private readonly onDevice: boolean,
  ) {
    this.host = new Float32Array(onDevice ? 0 : maxRows * rowSize);
    this.#rows = maxRows;
  }

  /** Makes the device buffer (device sampling); the run releases it with `device` when it ends. */
  open(): void {
    if (this.onDevice) this.#device = this.backend.createLogits!(this.maxRows);
  }

  /** The device buffer, or null (host sampling, or not opened yet). */
  get device(): DeviceLogits | null {
    return this.#device;
  }

  /** Where a call writes `rows` rows of logits. */
  target(rows: number): Float32Array | DeviceLogits {
    return this.#device ?? this.host.subarray(0, rows * this.rowSize);
  }

  /** A forward or head wrote `rows` raw rows. */
  wroteRaw(rows: number): void {
    this.#weight = null;
    this.#rows = rows;
  }

  /** A guidedHead of a [2B]-row feature wrote B rows guided at `weight`. */
  wroteGuided(weight: number, featureRows: number): void {
    this.#weight = weight;
    this.#rows = featureRows;
  }

  /** The weight a guidedHead applied, or null when the rows are raw. */
  get appliedWeight(): number | null {
    return this.#weight;
  }

  /** Sampling must guide: the rows are raw [cond; uncond]. */
  get guideAtSampling(): boolean {
    return this.#weight === null && this.#rows === 2 * this.batch;
  }

  /** The guidance weight this step's logits end up with: `weight` when guided (here or at sampling), else 0. */
  guidance(weight: number): number {
    return this.guideAtSampling || this.#weight !== null ? weight : 0;
  }
}
