import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One scratch project for the whole file: packing and `npm install` happen once, in beforeAll.
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
