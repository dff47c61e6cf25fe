import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The CLIP fixture is built by training/scripts/clip_tokenizer_fixture.py (transformers) once per run.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
