/**
 * @migm/backend-node: runs migm model bundles in Node.js with onnxruntime-node (CPU by default, CUDA when
 * asked for and installed). Bundles are read from disk and verified before use.
 */
export { createNodeBackend, CUDA_HELP, disableOrtTelemetry, NODE_DEVICES, type NodeBackendOptions, type NodeDevice } from './node-backend.js';
export { MAX_MANIFEST_BYTES, readBundleDir, sha256Node, type BundleFiles, type ReadBundleOptions } from './bundle-dir.js';
export type { Classification, DeviceFallback, FileProgressEvent, LoadProgressEvent, OrtBackend, SessionProgressEvent } from '@migm/backend-ort';
export { DTYPES, selectPrecision, type Dtype, type DtypeOption, type PrecisionChoice } from '@migm/backend-ort';
