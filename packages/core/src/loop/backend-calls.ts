import { now, type AbortSignalLike } from '../clock.js';
import type { Backend, DeviceLogits, FeatureTensor, TextHandle } from '../backend/types.js';
import { MigmError, throwIfAborted } from '../errors.js';

/** Counts of backend calls made by one generate() run. */
export interface CallCounts {
  forward: number;
  head: number;
  velocity: number;
  combine: number;
  /** Device sampling steps (`sampleStep`). */
  sample: number;
  /** Prompt encodings (`encodeText`): one per text-conditioned run, of every distinct prompt at once. */
  encode: number;
}

/**
 * Every backend call of one run goes through `call`: it is counted and timed (for the run and for the current
 * step), a failure that is not a `MigmError` becomes `BACKEND_FAILURE` naming the call, and a result that arrives
 * after the signal aborted (a feature or encoded prompts) is released before `ABORTED` is thrown, so nothing leaks.
 */
export class BackendCalls {
  readonly counts: CallCounts = { forward: 0, head: 0, velocity: 0, combine: 0, sample: 0, encode: 0 };
  /** Time awaiting the backend over the run, ms. */
  backendMs = 0;
  /** Time awaiting the backend since `beginStep`, ms. */
  stepBackendMs = 0;
  /** Calls since `beginStep`. */
  stepCalls = 0;

  constructor(
    private readonly backend: Backend,
    private readonly signal: AbortSignalLike | undefined,
  ) {}

  /** Starts the per-step counters of a new step. */
  beginStep(): void {
    this.stepBackendMs = 0;
    this.stepCalls = 0;
  }

  /** Awaits a backend call, timing it and releasing its result if the run was aborted meanwhile. (Bound: predictors get it as is.) */
  readonly call = async <T>(kind: keyof CallCounts, p: () => Promise<T>): Promise<T> => {
    const t0 = now();
    let value: T;
    try {
      value = await p();
    } catch (err) {
      if (err instanceof MigmError) throw err;
      throw new MigmError('BACKEND_FAILURE', `Backend ${this.backend.name} failed in ${kind}(): ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    } finally {
      const dt = now() - t0;
      this.backendMs += dt;
      this.stepBackendMs += dt;
      this.counts[kind]++;
      this.stepCalls++;
    }
    if (this.signal?.aborted && value !== null && typeof value === 'object' && ('dims' in value || (value as { kind?: unknown }).kind === 'text')) {
      this.backend.release(value as unknown as FeatureTensor | TextHandle);
    }
    throwIfAborted(this.signal);
    return value;
  };
}

/**
 * Releases a run's handles (its logits buffer, its encoded prompts) in order, skipping nulls. Errors are
 * swallowed: cleanup must never hide the error that ended the run (e.g. a backend disposed mid-run).
 */
export function releaseQuietly(backend: Backend, handles: readonly (DeviceLogits | TextHandle | null)[]): void {
  for (const handle of handles) {
    if (handle === null) continue;
    try {
      backend.release(handle);
    } catch {
      /* gone with its backend */
    }
  }
}
