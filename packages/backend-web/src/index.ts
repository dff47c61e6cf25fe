/**
 * @migm/backend-web: the browser side of migm. Fetches, verifies (Web Crypto sha256) and caches model bundles
 * (Cache API), and runs them with onnxruntime-web on WebGPU or wasm, on a page or in a Web Worker.
 */
export {
  BUNDLE_CACHE_NAME,
  clearBundleCache,
  fetchBundle,
  MAX_MANIFEST_BYTES,
  type BundleProgressEvent,
  type CacheLike,
  type FetchBundleOptions,
  type FetchedBundle,
} from './fetch-bundle.js';
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
export type { DeviceFallback, OrtBackend } from '@migm/backend-ort';
