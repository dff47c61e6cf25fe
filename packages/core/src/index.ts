/**
 * @migm/core: the platform-free core of migm. Schedules, seeded sampling, guidance, the full-step planner,
 * feature integration and the generation loop for masked image generation models (MaskGIT family), behind a
 * `Backend` interface that runtime packages implement.
 */
export { MigmError, isMigmError, type MigmErrorCode } from './errors.js';
export { checkCapabilities } from './backend/capabilities.js';
export { checkFloats, checkIds, checkObject } from './backend/check-inputs.js';
export { checkSampleStep } from './backend/check-sample-step.js';
export { checkOptionKeys, closestKey } from './option-keys.js';
export type { AbortSignalLike } from './clock.js';

export { MASKGIT_SCHEDULES, tokenCounts, type MaskgitScheduleName } from './schedules/maskgit.js';
export { dimooKeepMasked, keepMaskedToCounts } from './schedules/dimoo.js';
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
  type DrawMethod,
  type SampleParams,
  type SamplerScratch,
  nonFiniteLogits,
} from './sampling/step-sampler.js';
export { drawStepUniforms, sampleStepHost } from './sampling/step-uniforms.js';
export { applyGuidance, guidanceWeights, type Guidance } from './guidance/guidance.js';
export { unconditionalSteps } from './guidance/guidance-interval.js';

export { HostFeature, checkTerms, combineHost, guideFeatureHost, integrateHost } from './features/host-features.js';
export { AFFINE_HEAD_TOLERANCE, affineHeadUsable, checkAffineHead } from './features/affine-head.js';
export { taylorCoefficients, taylorTerms } from './features/taylor.js';

export type {
  Backend,
  BackendCapabilities,
  DeviceLogits,
  DeviceSampleStep,
  FeatureTensor,
  FeatureTerm,
  ForwardInput,
  ImageBatch,
  VelocityControl,
} from './backend/types.js';

export { generate, type CallCounts, type GenerateResult, type SamplerReport } from './generate/generate.js';
export { LEGACY_PREDICTOR_NAMES, PREDICTOR_REGISTRY, predictorDefinition, type LegacyPredictorName } from './predictors/registry.js';
export { definePredictor, type CallKind, type Prediction, type PredictorDefinition, type PredictorEnv, type PredictorRun, type SkippedStep } from './predictors/types.js';
export { FeatureArena } from './predictors/arena.js';
export { adamsBashforthCoefficients } from './predictors/adams.js';
export {
  DEFAULT_MEMORY_LIMIT,
  estimateRunBytes,
  GENERATE_OPTION_KEYS,
  MAX_SCALE,
  PREDICTORS,
  resolveOptions,
  type ConfidenceNoise,
  type GenerateOptions,
  type Predictor,
  type ResolvedOptions,
  type RefreshPolicy,
  type SamplerChoice,
} from './generate/options.js';
export type { FeatureEvent, StepEvent, StepKind, StepTrace } from './generate/events.js';

export { GRAPH_CONTRACT, type GraphRole, type Manifest } from './manifest/types.js';
export type { BundleFile, GraphSpec, HeadGraphSpec, ShortcutGraphSpec, TensorSpec } from './manifest/types.js';
export { checkShortcutCompatibility, manifestSchema, SUPPORTED_SCHEMA_VERSIONS, validateManifest } from './manifest/validate.js';
export { toHex, verifyBundleFile, type Sha256 } from './manifest/verify-files.js';

export { tileImages, type RgbaImage, type TileOptions } from './image/tile.js';
