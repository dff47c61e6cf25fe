/**
 * Test helpers of @migm/core: the backend conformance suite every backend runs against itself, a
 * deterministic in-memory backend for tests that need no model files, and `graphOutputs` and `timeGenerate` for
 * comparing two backends of one bundle (device checks).
 *
 * @example
 * import { backendConformance } from '@migm/core/testing';
 * const { cases, cleanup } = backendConformance({ create: () => createMyBackend() });
 * for (const c of cases) it(c.name, c.run);
 * afterAll(cleanup);
 */
export { backendConformance, CONFORMANCE_PROMPTS, type ConformanceCase, type ConformanceOptions } from './conformance.js';
export { equalShare, GRAPH_OUTPUT_PROMPT, graphOutputs, maxAbsDiff, type GraphOutputsOptions } from './graph-outputs.js';
export { timeGenerate, type GenerateTiming } from './time-generate.js';
export { TestBackend, testManifest, TestTokenizer, type TestBackendCounts, type TestModelSize } from './test-backend.js';
