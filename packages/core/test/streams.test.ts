import { describe, expect, it } from 'vitest';
import { generate, isMigmError } from '../src/index.js';
import { TestBackend } from '../src/testing/test-backend.js';

describe('generate() streams: images of several seeds in one call', () => {
  it('each image equals the same image generated alone with its own seed', async () => {
    const backend = new TestBackend();
    const common = { steps: 6, predictor: 'shortcut', budget: 3, guidance: 2 } as const;
    const a = await generate(backend, { ...common, condition: [1, 2], seed: 3 });
    const b = await generate(backend, { ...common, condition: [0, null, 2], seed: 9 });
    const both = await generate(backend, {
      ...common,
      condition: [1, 2, 0, null, 2],
      streams: [
        [3, 0],
        [3, 1],
        [9, 0],
        [9, 1],
        [9, 2],
      ],
    });
    const L = a.tokensPerImage;
    expect(Array.from(both.tokens.subarray(0, 2 * L))).toEqual(Array.from(a.tokens));
    expect(Array.from(both.tokens.subarray(2 * L))).toEqual(Array.from(b.tokens));
    // And the order inside the call does not matter: image 1 of seed 9 alone at row 0.
    const one = await generate(backend, { ...common, condition: [null], streams: [[9, 1]] });
    expect(Array.from(one.tokens)).toEqual(Array.from(b.tokens.subarray(L, 2 * L)));
    await backend.dispose();
  });

  it('refuses streams of the wrong length or with bad pairs', async () => {
    const backend = new TestBackend();
    for (const streams of [
      [[1, 0]],
      [
        [1, 0],
        [1, -1],
      ],
      [
        [1, 0],
        [0.5, 1],
      ],
      [[1, 0], 7],
    ] as never[]) {
      const err = await generate(backend, { condition: [1, 2], steps: 2, streams }).catch((e: unknown) => e);
      expect(isMigmError(err, 'INVALID_OPTION')).toBe(true);
      expect((err as Error).message).toMatch(/streams/);
    }
    await backend.dispose();
  });
});
