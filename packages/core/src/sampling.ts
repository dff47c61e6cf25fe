/**
 * `@migm/core/sampling`: the pieces `generate()` is made of, for method authors, reference-vector tests and
 * other runtimes that must reproduce migm bit for bit: schedules and the full-step planner, the seeded PRNG
 * streams, the row and step samplers, guidance, Taylor and Adams-Bashforth coefficients, and the predictor
 * contract (`definePredictor`, `FeatureArena`). Apps do not need this entry.
 *
 * @example
 * import { RandomStreams, tokenCounts } from '@migm/core/sampling';
 * const counts = tokenCounts('arccos', 16, 256); // tokens revealed at each of 16 steps over 256 positions
 */
export { MASKGIT_SCHEDULES, tokenCounts, type MaskgitScheduleName } from './schedules/maskgit.js';
export { dimooKeepMasked, keepMaskedToCounts } from './schedules/dimoo.js';
export { cosineFloorCounts } from './schedules/cosine-floor.js';
export { resolveSchedule, type Schedule } from './schedules/resolve.js';
export { roundHalfEven } from './schedules/float32.js';
export { fullStepPlan, checkPlan } from './plan/full-step-plan.js';
export { AdaptiveRefresh } from './plan/adaptive-refresh.js';

export { RandomStreams, isValidSeed, nextGumbel, nextUint32, nextUniform, seedStream } from './random/prng.js';
export { drawInverseCdf, expInPlace, filterTopK, filterTopP, guideRow, logSumExp } from './sampling/row.js';
export {
  commitTopConfidence,
  createSamplerScratch,
  sampleMaskedPositions,
  nonFiniteLogits,
  type DrawMethod,
  type SampleParams,
  type SamplerScratch,
} from './sampling/step-sampler.js';
export { drawStepUniforms, sampleStepHost } from './sampling/step-uniforms.js';
export { applyGuidance, guidanceWeights, type Guidance } from './guidance/guidance.js';
export { unconditionalSteps } from './guidance/guidance-interval.js';
export { taylorCoefficients, taylorTerms } from './features/taylor.js';

export {
  definePredictor,
  type CallKind,
  type Prediction,
  type PredictorDefinition,
  type PredictorEnv,
  type PredictorRun,
  type SkippedStep,
} from './predictors/types.js';
export { FeatureArena } from './predictors/arena.js';
export { adamsBashforthCoefficients } from './predictors/adams.js';
export { GENERATE_OPTION_KEYS, MAX_SCALE, resolveOptions, type ResolvedOptions } from './generate/options.js';
