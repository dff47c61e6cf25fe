// The device sampler on the default bundle (real logits of the trained model): generate() with the float64 graph
// on the CPU provider commits the host sampler's tokens. Every sampleStep is also run by core's reference on a
// host copy of the same logits and uniforms (samplerAgreementProbe); the share of identical committed tokens is
// stated (the benchmark, bench/device-sampling.mjs, measures it over 2,000 images).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classCondition, generate } from '@migm/core';
import { samplerAgreementProbe } from '@migm/backend-ort';
import { createNodeBackend } from '../src/index.js';

const DEFAULT_BUNDLE = fileURLToPath(new URL('../../bundle-fashion-mnist/bundle/', import.meta.url));

describe('createNodeBackend deviceSampling', () => {
  it('is off by default and refuses a non-boolean', async () => {
    const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));
    const b = await createNodeBackend({ bundle: TINY, threads: 1 });
    expect(b.capabilities.deviceSampling).toBe(false);
    await b.dispose();
    await expect(createNodeBackend({ bundle: TINY, deviceSampling: 1 as never })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('deviceSampling'),
    });
  });

  it.skipIf(!existsSync(`${DEFAULT_BUNDLE}manifest.json`))(
    'commits the host reference tokens on the default bundle over whole runs (vanilla and shortcut, guided)',
    async () => {
      const backend = await createNodeBackend({ bundle: DEFAULT_BUNDLE, deviceSampling: true });
      const { backend: probe, stats } = samplerAgreementProbe(backend);
      const classes = classCondition(backend.manifest, 'this test').numClasses;
      let images = 0;
      for (const [i, options] of [{ predictor: 'vanilla' }, { predictor: 'shortcut', budget: 5 }].entries()) {
        for (const seed of [1, 2]) {
          const r = await generate(probe, {
            ...options,
            steps: 16,
            condition: Array.from({ length: 5 }, (_, j) => (seed * 5 + j + i) % classes),
            seed,
            sampler: 'device',
          } as never);
          expect(r.sampler.device).toBe(true);
          images += r.batch;
        }
      }
      console.log(
        `device sampler (float64, CPU provider) vs host reference, default bundle: ${stats.same} of ${stats.total} committed tokens identical over ${images} images (${stats.steps} steps)`,
      );
      expect(stats.total).toBeGreaterThan(0);
      // Identical on the build machine; a CPU whose libm rounds one log differently could flip a near-tie.
      expect(stats.same / stats.total).toBeGreaterThanOrEqual(0.999);
      expect(backend.liveLogits).toBe(0);
      await backend.dispose();
    },
    120_000,
  );
});
