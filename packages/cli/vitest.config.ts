import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Most tests spawn the CLI (node + onnxruntime); on a loaded 2-core machine one took 30+ s.
    testTimeout: 120_000,
  },
});
