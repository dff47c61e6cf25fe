import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, type GenerateOptions } from '@migm/core';
import { createNodeBackend } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';

// Tokens recorded with generate() before the predictors became one file each behind a registry: the existing
// methods must keep their exact outputs (same seed, same tokens, same backend calls) on the default bundle.
const fixture = JSON.parse(readFileSync(new URL('./fixtures/predictor-tokens.json', import.meta.url), 'utf8')) as {
  cases: { options: GenerateOptions; tokensSha256: string; calls: Record<string, number> }[];
};
const backend = createNodeBackend({ bundle: bundleDir(), threads: 1 });
afterAll(async () => (await backend).dispose());

describe('existing predictors keep their exact outputs on the default bundle', () => {
  for (const c of fixture.cases) {
    it(`${c.options.predictor} ${JSON.stringify({ ...c.options, condition: undefined, predictor: undefined })}`, async () => {
      const r = await generate(await backend, c.options);
      expect(createHash('sha256').update(Buffer.from(r.tokens.buffer)).digest('hex')).toBe(c.tokensSha256);
      // The fixture predates device sampling (its runs sampled on the host) and prompts: sample and encode are 0.
      expect(r.calls).toEqual({ sample: 0, encode: 0, ...c.calls });
    });
  }
});
