import { bundleDir } from '@migm/bundle-fashion-mnist';
import { defaultClientConditions, defineConfig } from 'vite';
import { migmBundle } from './migm-assets.js';

export default defineConfig({
  base: './',
  logLevel: 'warn',
  plugins: [migmBundle({ dir: bundleDir() })],
  // onnxruntime-web's guidance for bundlers: its "extern wasm" builds load the runtime only from
  // env.wasm.wasmPaths, instead of bundled builds that make Vite emit their own copy of every wasm file
  // (42 MB, unused here). src/main.ts imports the four runtime files with ?url, so the build emits exactly those.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    rolldownOptions: {
      output: {
        // onnxruntime-web finds its .wasm and .mjs by name under one folder (env.wasm.wasmPaths): keep their names.
        assetFileNames: (asset) => (asset.names.some((n) => n.startsWith('ort-wasm-')) ? 'ort/[name][extname]' : 'assets/[name]-[hash][extname]'),
      },
    },
  },
});
