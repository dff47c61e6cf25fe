/**
 * @migm/core: the platform-free core of migm. Schedules, seeded sampling, guidance, the full-step planner,
 * feature integration and the generation loop for masked image generation models (MaskGIT family), behind a
 * `Backend` interface that runtime packages implement.
 *
 * This entry is for app authors: `generate()`, its options, events and results, the methods (predictor
 * registry), errors, manifests and image tiling. Backend authors import `@migm/core/backend` (the contract,
 * its input checks and host fallbacks); sampler and method internals are in `@migm/core/sampling`; the
 * conformance suite and a test backend are in `@migm/core/testing`.
 */
export { MigmError, isMigmError, type MigmErrorCode } from './errors.js';
export type { AbortSignalLike } from './clock.js';

export { generate, type CallCounts, type GenerateResult, type SamplerReport, type TextReport } from './generate/generate.js';
export { MAX_PROMPT_CHARS, type PromptReport } from './generate/condition.js';
export {
  DEFAULT_MEMORY_LIMIT,
  estimateRunBytes,
  PREDICTORS,
  type ConfidenceNoise,
  type GenerateOptions,
  type Predictor,
  type RefreshPolicy,
  type SamplerChoice,
} from './generate/options.js';
export type { FeatureEvent, StepEvent, StepKind, StepTrace } from './generate/events.js';
export { LEGACY_PREDICTOR_NAMES, PREDICTOR_REGISTRY, predictorDefinition, type LegacyPredictorName } from './predictors/registry.js';
export type { PredictorDefinition } from './predictors/types.js';

export { MASKGIT_SCHEDULES, type MaskgitScheduleName } from './schedules/maskgit.js';
export type { Schedule } from './schedules/resolve.js';
export { isValidSeed } from './random/prng.js';

// An app holds a backend and reads its manifest, capabilities and decoded images; it implements none of them.
export type { Backend, BackendCapabilities, ImageBatch, PromptTokenizer, TokenizedPrompt } from './backend/types.js';
export type { ClassCondition, Manifest, TextCondition } from './manifest/types.js';
export { classCondition, isClassConditioned, isTextConditioned, textCondition } from './manifest/condition.js';
export { checkShortcutCompatibility, manifestSchema, SUPPORTED_SCHEMA_VERSIONS, validateManifest } from './manifest/validate.js';

export { tileImages, type RgbaImage, type TileOptions } from './image/tile.js';
