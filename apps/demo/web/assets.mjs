// Where the demo's static assets come from: the model bundle it embeds and onnxruntime-web's wasm files.
// Shared by the Vite config, the server, the end-to-end test and the benchmark.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The real default bundle (made by training/), once it exists. */
export const REAL_BUNDLE = fileURLToPath(new URL('../../../packages/bundle-fashion-mnist/bundle/', import.meta.url));
/** The tiny bundle the tests use (16 tokens, width 32): fast everywhere, even on a software GPU. */
export const TINY_BUNDLE = fileURLToPath(new URL('../../../packages/backend-ort/test/fixtures/tiny-bundle/', import.meta.url));

/** The bundle the demo embeds: the real one when it has been built, else the tiny one. */
export function defaultBundleDir() {
  return existsSync(`${REAL_BUNDLE}manifest.json`) ? REAL_BUNDLE : TINY_BUNDLE;
}

/** onnxruntime-web's dist folder. */
export const ORT_DIST = `${dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm', { paths: [here] }))}/`;
/**
 * onnxruntime-web's runtime files: the plain build that @migm/backend-web uses for wasm, and the JSEP build
 * (wasm kernels plus WebGPU) it uses for webgpu. Each is fetched only when that device is used.
 */
export const ORT_FILES = ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs'];

/** Built page. */
export const DIST = fileURLToPath(new URL('./dist/', import.meta.url));
