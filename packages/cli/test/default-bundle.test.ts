// End to end on the embedded default bundle: what `npm install @migm/cli` users get with no flags.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '@migm/core';
import { backendConformance } from '@migm/core/testing';
import { createNodeBackend, type OrtBackend } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { main } from '../src/main.js';

const dir = mkdtempSync(join(tmpdir(), 'migm-default-'));

describe('default bundle: backend conformance', () => {
  const { cases, cleanup } = backendConformance({
    create: () => createNodeBackend({ bundle: bundleDir() }),
    liveFeatures: (b) => (b as OrtBackend).liveFeatures,
  });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('default bundle: every method end to end', () => {
  it('generates a small batch with each method; images are real and classified as their class', async () => {
    const backend = await createNodeBackend({ bundle: bundleDir(), classifier: true });
    try {
      const m = backend.manifest;
      expect(m.tokens.count).toBeGreaterThanOrEqual(196);
      for (const predictor of ['none', 'learned', 'reuse', 'taylor'] as const) {
        const r = await generate(backend, { condition: [1, 7, 9, 8], seed: 3, predictor, ...(predictor === 'none' ? {} : { budget: m.sampling.budget }) });
        const images = await backend.decode(r.tokens, r.batch);
        let min = Infinity;
        let max = -Infinity;
        for (const v of images.data) {
          min = Math.min(min, v);
          max = Math.max(max, v);
        }
        expect(max - min, `${predictor}: images are not constant`).toBeGreaterThan(0.5);
        const c = await backend.classify(images);
        const predicted = [0, 1, 2, 3].map((b) => {
          const row = Array.from(c.logits.subarray(b * 10, b * 10 + 10));
          return row.indexOf(Math.max(...row));
        });
        // Trouser, sneaker, ankle boot and bag are the easy classes: at least 3 of 4 must be recognised.
        expect(predicted.filter((p, b) => p === [1, 7, 9, 8][b]).length, `${predictor}: predicted ${predicted}`).toBeGreaterThanOrEqual(3);
      }
      expect(backend.liveFeatures).toBe(0);
    } finally {
      await backend.dispose();
    }
  });

  it('migm generate with no --bundle writes the grid', async () => {
    const out = join(dir, 'default.png');
    const code = await main(['generate', '--class', 'sneaker', '--count', '4', '--seed', '1', '--out', out, '--quiet']);
    expect(code).toBe(0);
    const png = PNG.sync.read(readFileSync(out));
    expect([png.width, png.height]).toEqual([2 * 112 + 3 * 2, 2 * 112 + 3 * 2]);
  });
});
