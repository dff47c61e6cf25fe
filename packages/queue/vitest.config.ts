import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real Redis, real models and child processes on a loaded 2-core machine: generous limits.
    testTimeout: 300_000,
    hookTimeout: 180_000,
    // The files share the CPU with child workers; running them one at a time keeps timings sane.
    fileParallelism: false,
    env: { ORT_DISABLE_TELEMETRY: '1' },
  },
});
