import { defineConfig } from 'tsup';

// Private and run from this repository only: one ESM build for bin/migm-bench.js (and dist/precision.js, the
// precision variants' quality script), no CJS, no .d.ts.
export default defineConfig({
  entry: { main: 'src/main.ts', precision: 'src/precision.ts' },
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'node',
});
