/**
 * @migm/backend-ort: the onnxruntime `Backend` shared by @migm/backend-node and @migm/backend-web. Give it an
 * onnxruntime module and a verified bundle; the platform packages add loading and device selection.
 */
export { OrtBackend, type Classification, type OrtBackendOptions, type VerifiedBundle } from './ort-backend.js';
export { SessionBackend, type BundleTokenizer, type FeatureDims, type GraphOutputs, type LogitsTarget, type SessionBackendParts } from './session-backend.js';
export { bundleTokenizer } from './tokenizer.js';
export { isTextStore, TextStore, TextStores } from './text-handles.js';
export { checkGraph } from './graph-check.js';
export {
  ALLOWED_OP_DOMAINS,
  checkGraphBytes,
  inspectGraph,
  PLAIN_FILE_NAME,
  type AllowedExternalData,
  type ExternalRef,
  type GraphProblems,
} from './graph-inspect.js';
export { externalizeInitializers, type ExternalizedModel } from './onnx-external.js';
export type { CacheProgressEvent, FileProgressEvent, LoadProgressEvent, SessionProgressEvent } from './load-progress.js';
export { checkLength, checkRows, createSessions, errorText, graphRoles, intTensor, releaseSessions, type Sessions } from './sessions.js';
export { FeaturePool } from './feature-pool.js';
export { InFlight } from './in-flight.js';
export { affineHeadVerdict, checkDecodeInput, checkForwardInput, checkGuidedHead, checkVelocityControl } from './backend-inputs.js';
export { firstWorkingDevice, type DeviceFallback } from './device-chain.js';
export { DTYPES, selectPrecision, type Dtype, type DtypeOption, type PrecisionChoice } from './precision.js';
export type { OrtModule } from './ort-types.js';
export { DeviceSampler, type DeviceSamplerOptions, type SamplerOrt, type SamplerTraffic } from './device-sampler.js';
export { buildSamplerGraph, SAMPLER_IO, type SamplerGraphOptions, type SamplerPrecision } from './sampler-graph.js';
export { checkHostLogits, isLogitsHandle, LogitsHandle, LogitsHandles, MAX_LOGITS_ROWS } from './logits-handles.js';
export { samplerAgreementProbe, type ProbedBackend, type SamplerAgreement } from './agreement-probe.js';
