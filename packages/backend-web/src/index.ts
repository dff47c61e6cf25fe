/**
 * @migm/backend-web: the browser side of migm. Fetches, verifies (streaming sha256) and caches model bundles of
 * any size (Cache Storage, in parts), and runs them with onnxruntime-web on WebGPU or wasm, on a page or in a
 * Web Worker.
 */
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  fetchBundle,
  MAX_MANIFEST_BYTES,
  type BundleProgressEvent,
  type CacheProgressEvent,
  type FetchBundleOptions,
  type FetchedBundle,
  type FetchFailure,
  type LoadProgressEvent,
} from './fetch-bundle.js';
export { BUNDLE_CACHE_NAME, CACHE_PART_BYTES, openBundleCache, type CacheReadResult, type CachedBundleFile, type CacheLike } from './bundle-cache.js';
export { cacheStorageStore, clearBundleCache, defaultBundleStore, listBundleCache, opfsStore, type BundleStore, type DirectoryLike } from './bundle-store.js';
export {
  createWebBackend,
  WEB_DEVICES,
  type DeviceSelection,
  type OrtWebModule,
  type WebBackend,
  type WebBackendOptions,
  type WebDevice,
  type WebDeviceChoice,
} from './web-backend.js';
export { WebGpuBackend } from './webgpu-backend.js';
export { checkWasmMemory, estimateWasmMemory, WASM_MEMORY_LIMIT, WASM_WEIGHT_BUDGET, type WasmGraphEstimate, type WasmMemoryEstimate } from './wasm-memory.js';
export type { DeviceFallback, OrtBackend, SessionProgressEvent } from '@migm/backend-ort';
export { DTYPES, selectPrecision, type Dtype, type DtypeOption, type PrecisionChoice } from '@migm/backend-ort';
