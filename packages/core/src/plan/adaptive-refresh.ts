/**
 * An adaptive refresh policy (beyond the paper): within a budget of B full steps, decide at run time which steps
 * run the base model, instead of the paper's fixed plan.
 *
 * The signal is one the run already has: the mean log-probability (without the confidence noise) of the tokens
 * committed at the previous step, over the batch. A full step fixes a reference; while skipped steps follow,
 * a predicted feature that drifts from what the base model would give changes how sure the sampled
 * distributions are, in either direction (too flat, or over-sure on class-typical positions). When the signal
 * has moved by more than `tolerance` nats from the reference, the base model runs again.
 *
 * Guard rails keep the budget exact and spread: with r full steps left after the last full step s, the even
 * spacing is (N - s) / (r + 1); a refresh needs at least half that gap, happens anyway at twice it, and the
 * budget is spent to the end (a step whose remaining steps equal the remaining budget is full), so a run makes
 * exactly B full steps, as the fixed plan does, and the two compare at equal cost.
 *
 * @example
 * const policy = new AdaptiveRefresh(16, 5, 0.25);
 * policy.decide(0); // true: step 0 is always full
 * policy.observe(0, true, -0.8);
 */
export class AdaptiveRefresh {
  #left: number;
  #lastFull = -1;
  #reference: number | null = null;
  #signal: number | null = null;

  constructor(
    readonly steps: number,
    readonly budget: number,
    readonly tolerance: number,
  ) {
    this.#left = budget;
  }

  /** Whether step `i` runs the base model (call once per step, in order). */
  decide(i: number): boolean {
    const full = this.#decide(i);
    if (full) {
      this.#left--;
      this.#lastFull = i;
    }
    return full;
  }

  #decide(i: number): boolean {
    if (i === 0) return this.#left > 0;
    if (this.#left <= 0) return false;
    if (this.#left >= this.steps - i) return true;
    const spacing = (this.steps - this.#lastFull) / (this.#left + 1);
    const gap = i - this.#lastFull;
    if (gap >= 2 * spacing) return true;
    if (gap < 0.5 * spacing || this.#reference === null || this.#signal === null) return false;
    return Math.abs(this.#signal - this.#reference) > this.tolerance;
  }

  /** The mean committed log-probability of step `i` (NaN when it committed nothing: the signal is kept). */
  observe(i: number, full: boolean, meanLogProb: number): void {
    if (Number.isNaN(meanLogProb)) return;
    if (full && i === this.#lastFull) this.#reference = meanLogProb;
    this.#signal = meanLogProb;
  }
}
