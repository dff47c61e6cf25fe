import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // These tests make onnxruntime-node sessions directly; keep its telemetry off as createNodeBackend does.
    env: { ORT_DISABLE_TELEMETRY: '1' },
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
