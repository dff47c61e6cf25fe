import type { AbortSignalLike } from '../clock.js';
import { describe, invalidOption, MigmError } from '../errors.js';
import { checkOptionKeys } from '../option-keys.js';
import { guidanceWeights, type Guidance } from '../guidance/guidance.js';
import { unconditionalSteps } from '../guidance/guidance-interval.js';
import type { Manifest } from '../manifest/types.js';
import { checkPlan, fullStepPlan, planMask } from '../plan/full-step-plan.js';
import { isValidSeed } from '../random/prng.js';
import type { DrawMethod } from '../sampling/step-sampler.js';
import { resolveSchedule, type Schedule } from '../schedules/resolve.js';
import type { FeatureEvent, StepEvent } from './events.js';
import { resolveCondition, tokenizePrompts, type ResolvedText } from './condition.js';
import type { PromptTokenizer } from '../backend/types.js';
import { PREDICTOR_REGISTRY, PREDICTORS, predictorDefinition, type LegacyPredictorName, type Predictor } from '../predictors/registry.js';

export { PREDICTORS, type Predictor } from '../predictors/registry.js';

/** How full steps are chosen (see `GenerateOptions.refresh`). */
export type RefreshPolicy = 'plan' | 'adaptive';

/** Where sampling runs (see `GenerateOptions.sampler`). */
export type SamplerChoice = 'auto' | 'host' | 'device';

/** How the confidence noise behaves over the steps: MaskGIT anneals it to 0, DiMOO keeps it constant. */
export type ConfidenceNoise = 'annealed' | 'constant';

/** Options of `generate()`. Every field but the backend is optional; defaults come from the bundle's manifest. */
export interface GenerateOptions {
  /**
   * Class bundles (`condition.type` 'class'): class id (0..numClasses-1), null for unconditional, or one per
   * image. Default null. Refused (`INVALID_OPTION`) for a text bundle.
   */
  readonly condition?: number | null | readonly (number | null)[];
  /**
   * Text bundles (`condition.type` 'text'): the prompt, or one per image. Required there, refused for a class
   * bundle. Tokenized by the backend's tokenizer (prompts over `condition.maxLength` tokens are truncated, and the
   * result's `text.prompts` says so); each distinct prompt is encoded once per call.
   */
  readonly prompt?: string | readonly string[];
  /** Text bundles: the prompt of the guidance rows, or one per image. Default: the manifest's `condition.negativePrompt`. */
  readonly negativePrompt?: string | readonly string[];
  /** Text bundles with micro-conditioning: the values of `condition.microConditioning.names`. Default: its `default`. */
  readonly microConditioning?: readonly number[];
  /** Images to generate. Default: the length of `condition` (or `prompt`) if it is an array, else 1. */
  readonly batch?: number;
  /** Total steps N. Default: manifest sampling.steps. */
  readonly steps?: number;
  /** Masking schedule. Default: manifest sampling.schedule. */
  readonly schedule?: Schedule;
  /**
   * What fills a skipped step (one of `PREDICTORS`; each is a file in src/predictors/, listed in
   * `PREDICTOR_REGISTRY` with a one-line summary). Default: 'shortcut' when the backend has a shortcut model,
   * else 'vanilla'. The first releases' names ('none', 'learned', 'learned-taylor') are still accepted.
   */
  readonly predictor?: Predictor | LegacyPredictorName;
  /** Number of full steps B for accelerated predictors (paper plan). Default: manifest sampling.budget. */
  readonly budget?: number;
  /** Explicit full steps instead of a budget: strictly increasing, starting at 0. */
  readonly plan?: readonly number[];
  /**
   * How an accelerated run picks its B full steps: 'plan' (default) the paper's fixed plan; 'adaptive' decides
   * at run time from the committed tokens' log-probabilities (see `AdaptiveRefresh`), with exactly B full
   * steps. 'adaptive' samples on the host (the signal comes from the host sampler). Its signal is averaged over
   * the batch, so unlike every other option an image's pictures depend on its batch-mates.
   */
  readonly refresh?: RefreshPolicy;
  /** The adaptive policy's threshold, in nats of mean committed log-probability. Default 0.25. */
  readonly refreshTolerance?: number;
  /** Taylor order (1 or 2). Default 1. */
  readonly taylorOrder?: 1 | 2;
  /** Classifier-free guidance. Default: manifest sampling.guidance. 0 disables it (and halves the work). */
  readonly guidance?: Guidance;
  /**
   * Steps whose guidance weight is at most this run the conditional branch only (eMIGM's guidance interval):
   * the unconditional forward of a step is skipped when neither it nor the skipped steps it feeds need one.
   * The default 0 changes no token and removes only work whose result nobody reads (under the linear ramp,
   * vanilla's step 0); a larger cutoff drops small weights, trading guidance for time. Number from 0 to 1000, or
   * false to run both branches at every step of a guided run (trajectory recording needs every step alike).
   */
  readonly guidanceCutoff?: number | false;
  /**
   * Where each step's sampling runs: 'device' next to the logits (backends with `capabilities.deviceSampling`;
   * only revealed positions and ids come back), 'host' in core's sampler (the reference), or 'auto' (default):
   * the device when the backend offers it and the options allow it (inverse-CDF draw, no topK / topP), else the
   * host. The result's `sampler` says which ran and why. Both draw the same random numbers from the seed.
   */
  readonly sampler?: SamplerChoice;
  /** Inverse temperature on logits before softmax. Default: manifest sampling.inverseTemperature. */
  readonly inverseTemperature?: number;
  /** r_temp: scale of the Gumbel noise on confidences. Default: manifest sampling.randomizeTemperature (1 for 'dimoo'). */
  readonly randomizeTemperature?: number;
  /**
   * r_temp at skipped steps of an accelerated run (vanilla has none). A skipped step's confidences come from a
   * reused or predicted feature, so the same class-typical positions tend to win in every image. Measured on the
   * default bundle (docs/training-report.md): with its r_temp of 7, 14-21 at skipped steps improved the
   * shortcut's FD by 1.5-2; with a sampler tuned to r_temp 14 everywhere, more at skipped steps changed nothing.
   * Default: manifest sampling.skippedRandomizeTemperature when it is set, else the resolved `randomizeTemperature`.
   */
  readonly skippedRandomizeTemperature?: number;
  /**
   * At skipped steps, apply guidance to the feature and run the head once per image instead of once per guidance
   * branch, when the backend offers `guidedHead` (the bundle's head is affine, checked at load). Exact up to
   * float32 rounding, and half the head's work. false runs the head on both branches and guides the logits,
   * as full steps do. Default true.
   */
  readonly guidedHead?: boolean;
  /** Confidence noise over steps. Default: 'constant' for the 'dimoo' schedule, else 'annealed'. */
  readonly confidenceNoise?: ConfidenceNoise;
  /** Candidate draw. Default 'inverse-cdf'. */
  readonly draw?: DrawMethod;
  /** Keep only the k most likely tokens per position (integer 1..K). Default off. */
  readonly topK?: number;
  /** Nucleus filtering mass in (0, 1]. Default 1 (off). */
  readonly topP?: number;
  /**
   * Bytes one call may plan to use (see `estimateRunBytes`): a batch whose estimate exceeds it is refused with
   * the estimate in the message, instead of exhausting the machine. Default 4 GiB (`DEFAULT_MEMORY_LIMIT`).
   */
  readonly memoryLimit?: number;
  /** Integer 0..2^53-1 fixing every random draw. Default: a random seed, reported in the result. */
  readonly seed?: number;
  /**
   * One `[seed, index]` per image: image b draws from the stream image `index` of a run with that seed would
   * use, so one call can hold images of several seeds (a job queue batching requests) and each is the same
   * picture as when generated alone. Default: `[seed, b]`.
   */
  readonly streams?: readonly (readonly [seed: number, index: number])[];
  /** Stops generation: checked before each step and after each backend call; the promise rejects with `ABORTED`. */
  readonly signal?: AbortSignalLike;
  /** Called after every step with progress and the current token grid. */
  readonly onStep?: (event: StepEvent) => void;
  /** Called with each step's feature before sampling (for recording trajectories); awaited. */
  readonly onFeature?: (event: FeatureEvent) => void | Promise<void>;
}

/** Options after validation, with defaults applied and schedules and plans resolved. */
export interface ResolvedOptions {
  readonly batch: number;
  /** Class bundles: the class of each image (the null class for unconditional ones); empty for text bundles. */
  readonly classes: Int32Array;
  /** Text bundles: the tokenized prompts; null for class bundles. */
  readonly text: ResolvedText | null;
  readonly steps: number;
  readonly counts: Int32Array;
  readonly predictor: Predictor;
  readonly plan: Int32Array;
  /** Full steps of the fixed plan; with refresh 'adaptive' only the budget (plan.length) applies. */
  readonly fullMask: Uint8Array;
  readonly refresh: RefreshPolicy;
  readonly refreshTolerance: number;
  readonly taylorOrder: 1 | 2;
  readonly weights: Float64Array;
  /** The run has an unconditional branch at some step (2B rows there). */
  readonly guided: boolean;
  /** Per step: 1 when it runs both branches, 0 for the conditional rows only (all 0 when not guided). */
  readonly unconditional: Uint8Array;
  /** null: both branches at every step (`guidanceCutoff: false`). */
  readonly guidanceCutoff: number | null;
  readonly sampler: SamplerChoice;
  readonly inverseTemperature: number;
  readonly randomizeTemperature: number;
  readonly skippedRandomizeTemperature: number;
  readonly guidedHead: boolean;
  readonly confidenceNoise: ConfidenceNoise;
  readonly draw: DrawMethod;
  readonly topK: number;
  readonly topP: number;
  readonly seed: number;
  readonly streams: readonly (readonly [number, number])[] | null;
}

const MAX_BATCH = 4096;

/** Largest inverse temperature, guidance weight and r_temp accepted: far beyond any useful value, and small
 * enough that scaled float32 logits stay finite in float64 sampling. */
export const MAX_SCALE = 1000;

/** Default `memoryLimit`: 4 GiB per call. */
export const DEFAULT_MEMORY_LIMIT = 4 * 1024 ** 3;

/** Every key `generate()` reads; anything else is refused (a typo such as `budjet` must not be ignored). */
export const GENERATE_OPTION_KEYS = [
  'condition',
  'prompt',
  'negativePrompt',
  'microConditioning',
  'batch',
  'steps',
  'schedule',
  'predictor',
  'budget',
  'plan',
  'refresh',
  'refreshTolerance',
  'taylorOrder',
  'guidance',
  'guidanceCutoff',
  'inverseTemperature',
  'randomizeTemperature',
  'skippedRandomizeTemperature',
  'guidedHead',
  'confidenceNoise',
  'draw',
  'topK',
  'topP',
  'memoryLimit',
  'sampler',
  'seed',
  'streams',
  'signal',
  'onStep',
  'onFeature',
] as const satisfies readonly (keyof GenerateOptions)[];
// Compile-time check that the list names every option: a new option without a key here fails to type-check.
type MissingKey = Exclude<keyof GenerateOptions, (typeof GENERATE_OPTION_KEYS)[number]>;
const everyKeyListed: [MissingKey] extends [never] ? true : MissingKey = true;
void everyKeyListed;

/**
 * Estimated bytes of one generate() call, per row (image, or image and its unconditional twin under guidance):
 * the logits [L, K] float32; up to six features [L, D] float32 held by the loop and the backend's pool; and the
 * base model's activations inside the runtime, taken as 4 * L * (2L + 32 D) bytes (attention maps and
 * D-wide intermediates). On the default bundle this gives 8.6 MB per guided image; measured: 8.7 MB at batch 256.
 */
export function estimateRunBytes(manifest: Manifest, batch: number, guided: boolean): { bytes: number; perImage: number } {
  const L = manifest.tokens.count;
  const K = manifest.tokens.codebookSize;
  const D = manifest.featureDim;
  const perRow = 4 * L * K + 6 * 4 * L * D + 4 * L * (2 * L + 32 * D);
  const perImage = (guided ? 2 : 1) * perRow;
  return { bytes: perImage * batch, perImage };
}

/** Refuses a batch whose estimated memory exceeds the limit, saying the estimate and the largest batch that fits. */
function checkMemory(manifest: Manifest, batch: number, guided: boolean, limit: number | undefined): void {
  const max = limit ?? DEFAULT_MEMORY_LIMIT;
  if (typeof max !== 'number' || !Number.isFinite(max) || max < 1024 ** 2) throw invalidOption('memoryLimit', max, 'a number of bytes >= 1 MiB is allowed');
  const { bytes, perImage } = estimateRunBytes(manifest, batch, guided);
  const L = manifest.tokens.count;
  const K = manifest.tokens.codebookSize;
  // The logits buffer [rows, L, K] is one Float32Array: it must stay under 2 GiB whatever the limit.
  const logitRows = Math.floor(2 ** 31 / (L * K * 4));
  const fits = Math.min(Math.floor(max / perImage), Math.floor(logitRows / (guided ? 2 : 1)));
  if (batch > fits) {
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    throw new MigmError(
      'INVALID_OPTION',
      `Invalid option 'batch': ${batch} images need an estimated ${mb(bytes)} (${mb(perImage)} per image${guided ? ' with guidance' : ''}; L = ${L}, K = ${K}, D = ${manifest.featureDim}), above the limit of ${mb(max)}; at most ${fits} images per call fit: split the batch or raise memoryLimit.`,
      { details: { option: 'batch', value: batch, estimateBytes: bytes, perImageBytes: perImage, memoryLimit: max, maxBatch: fits } },
    );
  }
}

/** Validates options against a manifest and resolves defaults. Throws `INVALID_OPTION` naming the bad field. */
export function resolveOptions(given: GenerateOptions, manifest: Manifest, hasVelocity: boolean, tokenizer?: PromptTokenizer): ResolvedOptions {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw invalidOption('options', given, 'an object is allowed');
  const options = checkOptionKeys(given, GENERATE_OPTION_KEYS, 'generate()', ['condition']);
  const L = manifest.tokens.count;
  const K = manifest.tokens.codebookSize;
  const defaults = manifest.sampling;
  const resolved = resolveCondition(options, manifest, tokenizer);
  const batch = resolved.batch;
  const classes = resolved.type === 'class' ? resolved.classes : new Int32Array(0);
  // Every image of a text run has a prompt (even ""): guidance applies whenever a weight does.
  const anyConditional = resolved.type === 'text' || resolved.anyConditional;

  const steps = options.steps ?? defaults.steps;
  if (!Number.isInteger(steps) || steps < 1 || steps > L) throw invalidOption('steps', steps, `an integer from 1 to ${L} is allowed`);
  const schedule = options.schedule ?? defaults.schedule;
  const counts = resolveSchedule(schedule, steps, L);

  const predictor = options.predictor ?? (hasVelocity ? 'shortcut' : 'vanilla');
  const definition = typeof predictor === 'string' ? predictorDefinition(predictor) : undefined;
  if (definition === undefined) throw invalidOption('predictor', predictor, `allowed: ${PREDICTORS.join(', ')}`);
  if (definition.needsVelocity && !hasVelocity) {
    const others = PREDICTOR_REGISTRY.filter((p) => !p.needsVelocity).map((p) => `'${p.name}'`);
    throw new MigmError(
      'UNSUPPORTED',
      `Predictor '${predictor}' needs a shortcut model, and this backend's bundle has none (manifest graphs.shortcut). Use ${others.join(', ')}.`,
    );
  }
  let plan: Int32Array;
  if (!definition.accelerated) {
    if (options.budget !== undefined || options.plan !== undefined) {
      const accelerated = PREDICTOR_REGISTRY.filter((p) => p.accelerated).map((p) => `'${p.name}'`);
      throw invalidOption(
        options.plan !== undefined ? 'plan' : 'budget',
        options.plan ?? options.budget,
        `budget and plan apply only to predictors ${accelerated.join(', ')}; vanilla runs every step (use fewer steps instead)`,
      );
    }
    plan = Int32Array.from({ length: steps }, (_, i) => i);
  } else if (options.plan !== undefined) {
    if (options.budget !== undefined) throw invalidOption('budget', options.budget, 'give either budget or plan, not both');
    plan = checkPlan(options.plan, steps);
  } else {
    const budget = options.budget ?? Math.min(defaults.budget, steps);
    if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1 || budget > steps) {
      throw invalidOption('budget', budget, `an integer from 1 to steps (${steps}) is allowed`);
    }
    plan = fullStepPlan(steps, budget);
  }
  const fullMask = planMask(plan, steps);
  const refresh = options.refresh ?? 'plan';
  if (refresh !== 'plan' && refresh !== 'adaptive') throw invalidOption('refresh', refresh, 'allowed: "plan", "adaptive"');
  if (refresh === 'adaptive') {
    if (!definition.accelerated)
      throw invalidOption('refresh', refresh, `'adaptive' places the full steps of an accelerated predictor; vanilla runs every step`);
    if (options.plan !== undefined) throw invalidOption('plan', options.plan, "refresh 'adaptive' chooses the full steps itself: give a budget, not a plan");
  }
  const refreshTolerance = options.refreshTolerance ?? 0.25;
  if (typeof refreshTolerance !== 'number' || !Number.isFinite(refreshTolerance) || refreshTolerance < 0 || refreshTolerance > 100) {
    throw invalidOption('refreshTolerance', refreshTolerance, 'a number of nats from 0 to 100 is allowed');
  }

  const taylorOrder = options.taylorOrder ?? 1;
  if (taylorOrder !== 1 && taylorOrder !== 2) throw invalidOption('taylorOrder', taylorOrder, 'allowed: 1, 2');

  const weights = guidanceWeights(options.guidance ?? defaults.guidance, steps);
  const cutoffOption = options.guidanceCutoff ?? 0;
  if (cutoffOption !== false && (typeof cutoffOption !== 'number' || !Number.isFinite(cutoffOption) || cutoffOption < 0 || cutoffOption > MAX_SCALE)) {
    throw invalidOption('guidanceCutoff', cutoffOption, `a number from 0 to ${MAX_SCALE}, or false, is allowed`);
  }
  const guidanceCutoff = cutoffOption === false ? null : cutoffOption;
  let anyWeight = false;
  for (let i = 0; i < steps; i++) if (weights[i]! > (guidanceCutoff ?? 0)) anyWeight = true;

  for (let i = 0; i < steps; i++) {
    if (weights[i]! > MAX_SCALE) throw invalidOption('guidance', weights[i], `guidance weights from 0 to ${MAX_SCALE} are allowed (step ${i})`);
  }
  const guided = anyConditional && anyWeight;
  const text = resolved.type === 'text' ? tokenizePrompts(resolved, manifest, guided) : null;
  // An adaptive run's segments are not known in advance: it is taken as one segment (both branches throughout
  // when any step needs them).
  const segments = refresh === 'adaptive' ? planMask(Int32Array.of(0), steps) : fullMask;
  const unconditional = guided ? unconditionalSteps(weights, segments, guidanceCutoff, definition.fullStepHistory(taylorOrder)) : new Uint8Array(steps);
  checkMemory(manifest, batch, guided, options.memoryLimit);

  const inverseTemperature = options.inverseTemperature ?? defaults.inverseTemperature;
  if (typeof inverseTemperature !== 'number' || !Number.isFinite(inverseTemperature) || inverseTemperature <= 0 || inverseTemperature > MAX_SCALE) {
    throw invalidOption('inverseTemperature', inverseTemperature, `a number > 0 and <= ${MAX_SCALE} is allowed`);
  }
  // DiMOO scores log p + Gumbel (scale 1); MaskGIT bundles carry their own r_temp.
  const randomizeTemperature = options.randomizeTemperature ?? (schedule === 'dimoo' ? 1 : defaults.randomizeTemperature);
  if (typeof randomizeTemperature !== 'number' || !Number.isFinite(randomizeTemperature) || randomizeTemperature < 0 || randomizeTemperature > MAX_SCALE) {
    throw invalidOption('randomizeTemperature', randomizeTemperature, `a number from 0 to ${MAX_SCALE} is allowed`);
  }
  // A 'dimoo' run defaults to DiMOO's r_temp of 1 everywhere, so a MaskGIT manifest's skipped-step value does not apply.
  const skippedRandomizeTemperature =
    options.skippedRandomizeTemperature ?? (schedule === 'dimoo' ? randomizeTemperature : (defaults.skippedRandomizeTemperature ?? randomizeTemperature));
  if (
    typeof skippedRandomizeTemperature !== 'number' ||
    !Number.isFinite(skippedRandomizeTemperature) ||
    skippedRandomizeTemperature < 0 ||
    skippedRandomizeTemperature > MAX_SCALE
  ) {
    throw invalidOption('skippedRandomizeTemperature', skippedRandomizeTemperature, `a number from 0 to ${MAX_SCALE} is allowed`);
  }
  const confidenceNoise = options.confidenceNoise ?? (schedule === 'dimoo' ? 'constant' : 'annealed');
  if (confidenceNoise !== 'annealed' && confidenceNoise !== 'constant') {
    throw invalidOption('confidenceNoise', confidenceNoise, 'allowed: "annealed", "constant"');
  }
  const guidedHead = options.guidedHead ?? true;
  if (typeof guidedHead !== 'boolean') throw invalidOption('guidedHead', guidedHead, 'true or false is allowed');
  const draw = options.draw ?? 'inverse-cdf';
  if (draw !== 'inverse-cdf' && draw !== 'gumbel-max') throw invalidOption('draw', draw, 'allowed: "inverse-cdf", "gumbel-max"');
  const topK = options.topK ?? 0;
  if (options.topK !== undefined && (!Number.isInteger(topK) || topK < 1 || topK > K)) {
    throw invalidOption('topK', topK, `an integer from 1 to the codebook size (${K}) is allowed`);
  }
  const topP = options.topP ?? 1;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw invalidOption('topP', topP, 'a number in (0, 1] is allowed');
  const sampler = options.sampler ?? 'auto';
  if (sampler !== 'auto' && sampler !== 'host' && sampler !== 'device') throw invalidOption('sampler', sampler, 'allowed: "auto", "host", "device"');

  let seed = options.seed;
  if (seed === undefined) seed = Math.floor(Math.random() * 2 ** 32);
  else if (!isValidSeed(seed)) throw invalidOption('seed', seed, 'an integer from 0 to 2^53 - 1 is allowed');

  const streams = options.streams ?? null;
  if (streams !== null) {
    if (!Array.isArray(streams) || streams.length !== batch)
      throw invalidOption('streams', streams, `an array of one [seed, index] per image is allowed (batch is ${batch})`);
    streams.forEach((p: unknown, b) => {
      if (!Array.isArray(p) || p.length !== 2 || !isValidSeed(p[0]) || !Number.isInteger(p[1]) || p[1] < 0 || p[1] >= 2 ** 31) {
        throw invalidOption(`streams[${b}]`, p, 'a [seed, index] pair (seed an integer from 0 to 2^53 - 1, index from 0 to 2^31 - 1) is allowed');
      }
    });
  }

  if (options.signal !== undefined && !(typeof options.signal === 'object' && options.signal !== null && 'aborted' in options.signal)) {
    throw invalidOption('signal', options.signal, 'an AbortSignal is allowed');
  }
  for (const hook of ['onStep', 'onFeature'] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function') throw invalidOption(hook, describe(options[hook]), 'a function is allowed');
  }

  return {
    batch,
    classes,
    text,
    steps,
    counts,
    predictor: definition.name as Predictor,
    plan,
    fullMask,
    refresh,
    refreshTolerance,
    taylorOrder,
    weights,
    guided,
    unconditional,
    guidanceCutoff,
    sampler,
    inverseTemperature,
    randomizeTemperature,
    skippedRandomizeTemperature,
    guidedHead,
    confidenceNoise,
    draw,
    topK,
    topP,
    seed,
    streams,
  };
}
