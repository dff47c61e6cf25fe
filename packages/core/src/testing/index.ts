/**
 * Test helpers of @migm/core: the backend conformance suite every backend runs against itself, and a
 * deterministic in-memory backend for tests that need no model files.
 *
 * @example
 * import { backendConformance } from '@migm/core/testing';
 * const { cases, cleanup } = backendConformance({ create: () => createMyBackend() });
 * for (const c of cases) it(c.name, c.run);
 * afterAll(cleanup);
 */
export { backendConformance, type ConformanceCase, type ConformanceOptions } from './conformance.js';
export { TestBackend, testManifest, type TestBackendCounts, type TestModelSize } from './test-backend.js';
