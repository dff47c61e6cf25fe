import type { PromptReport, ResolvedText } from './condition.js';
import type { StepTrace } from './events.js';
import type { Predictor } from '../predictors/registry.js';
import type { CallCounts } from '../loop/backend-calls.js';

export type { CallCounts } from '../loop/backend-calls.js';

/** What a text-conditioned run did with its prompts. */
export interface TextReport {
  /** The distinct prompts (images' prompts first, then negative prompts), each tokenized and encoded once. */
  readonly prompts: readonly PromptReport[];
  /** Some prompt was longer than the bundle's `condition.maxLength` tokens and was truncated. */
  readonly truncated: boolean;
}

/** Which sampler ran a generate() call, and why the host one when it was not the device. */
export interface SamplerReport {
  readonly device: boolean;
  /** Why sampling ran on the host (null when it ran on the device). */
  readonly reason: string | null;
}

/** What `generate()` returns. Decode `tokens` to pixels with `backend.decode(result.tokens, result.batch)`. */
export interface GenerateResult {
  /** Final token ids [batch, L], int32. */
  readonly tokens: Int32Array;
  readonly batch: number;
  /** L: tokens per image. */
  readonly tokensPerImage: number;
  /** The seed used (the one given, or the random one drawn when none was given). */
  readonly seed: number;
  readonly predictor: Predictor;
  readonly steps: number;
  /** Steps that ran the base model (the fixed plan, or where refresh 'adaptive' put them). */
  readonly plan: Int32Array;
  readonly trace: readonly StepTrace[];
  readonly calls: Readonly<CallCounts>;
  /** Where sampling ran (see the `sampler` option). */
  readonly sampler: SamplerReport;
  /** Text bundles: the prompts and whether any was truncated; null for class bundles. */
  readonly text: TextReport | null;
  readonly timings: {
    /** Wall time of the whole run, ms. */
    readonly totalMs: number;
    /** Time awaiting the backend, ms. */
    readonly backendMs: number;
    /** Time in core (sampling, guidance, selection, bookkeeping), ms. */
    readonly coreMs: number;
  };
}

/** The result's report of a run's prompts: null for class bundles. */
export function textReport(text: ResolvedText | null): TextReport | null {
  return text === null ? null : { prompts: text.prompts, truncated: text.prompts.some((p) => p.truncated) };
}
