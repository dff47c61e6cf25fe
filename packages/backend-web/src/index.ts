/**
 * @migm/backend-web: the browser side of migm. This release fetches, verifies (Web Crypto sha256) and caches
 * model bundles (Cache API); the onnxruntime-web Backend builds on it.
 */
export {
  BUNDLE_CACHE_NAME,
  clearBundleCache,
  fetchBundle,
  type BundleProgressEvent,
  type CacheLike,
  type FetchBundleOptions,
  type FetchedBundle,
} from './fetch-bundle.js';
