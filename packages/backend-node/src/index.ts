/**
 * @migm/backend-node: the Node.js side of migm. This release reads and verifies model bundles from disk; the
 * onnxruntime-node Backend builds on it.
 */
export { readBundleDir, sha256Node, type BundleFiles } from './bundle-dir.js';
