/**
 * `@migm/core/backend`: what a backend author needs. The `Backend` contract and its tensor types, the checks a
 * backend runs on its inputs (so every backend rejects bad input with the same typed error), the capability
 * checker, the bundle's graph contract and file verification, and the host fallbacks a backend without a
 * device path delegates to (feature integration, guidance of features, the reference step sampler).
 *
 * @example
 * import { checkCapabilities, type Backend } from '@migm/core/backend';
 * // build a Backend, then: checkCapabilities(backend) before handing it to generate()
 */
export { MigmError, isMigmError, type MigmErrorCode } from './errors.js';
export { checkCapabilities } from './backend/capabilities.js';
export { checkFloats, checkForwardCondition, checkIds, checkObject, checkTextIds } from './backend/check-inputs.js';
export { checkSampleStep } from './backend/check-sample-step.js';
export { checkOptionKeys, closestKey } from './option-keys.js';

export type {
  Backend,
  BackendCapabilities,
  DeviceLogits,
  DeviceSampleStep,
  FeatureTensor,
  FeatureTerm,
  ForwardInput,
  ImageBatch,
  PromptTokenizer,
  TextHandle,
  TextRows,
  TokenizedPrompt,
  VelocityControl,
} from './backend/types.js';

export { baseInputRoles, GRAPH_CONTRACT, type GraphRole, type Manifest } from './manifest/types.js';
export { classCondition, isClassConditioned, isTextConditioned, textCondition } from './manifest/condition.js';
export type { BundleFile, ClassCondition, GraphSpec, HeadGraphSpec, ShortcutGraphSpec, TensorSpec, TextCondition } from './manifest/types.js';
export { validateManifest } from './manifest/validate.js';
export { toHex, verifyBundleFile, type Sha256 } from './manifest/verify-files.js';

export { HostFeature, checkTerms, combineHost, guideFeatureHost, integrateHost } from './features/host-features.js';
export { AFFINE_HEAD_TOLERANCE, affineHeadUsable, checkAffineHead } from './features/affine-head.js';
export { drawStepUniforms, sampleStepHost } from './sampling/step-uniforms.js';
export { nonFiniteLogits } from './sampling/step-sampler.js';
