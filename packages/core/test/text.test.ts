import { describe, expect, it } from 'vitest';
import { generate } from '../src/generate/generate.js';
import { isMigmError, type MigmErrorCode } from '../src/errors.js';
import { PREDICTOR_REGISTRY } from '../src/predictors/registry.js';
import { TestBackend } from '../src/testing/test-backend.js';
import type { GenerateOptions } from '../src/generate/options.js';

async function code(p: () => Promise<unknown>): Promise<{ code: MigmErrorCode | string; message: string } | null> {
  try {
    await p();
  } catch (e) {
    return isMigmError(e) ? { code: e.code, message: e.message } : { code: 'not-migm', message: String(e) };
  }
  return null;
}

describe('generate() on a text-conditioned bundle', () => {
  it('runs every predictor with prompts, seed-deterministic, and releases every feature and text handle', async () => {
    const b = new TestBackend({ text: true });
    expect(b.manifest.family).toBe('amused');
    for (const { name: predictor, accelerated } of PREDICTOR_REGISTRY) {
      const opts: GenerateOptions = { prompt: ['a red circle', 'two blue squares'], steps: 6, seed: 3, predictor, ...(accelerated ? { budget: 3 } : {}) };
      const r1 = await generate(b, opts);
      const r2 = await generate(b, opts);
      expect(
        r1.tokens.every((t) => t >= 0 && t < b.manifest.tokens.codebookSize),
        predictor,
      ).toBe(true);
      expect(Array.from(r1.tokens), predictor).toEqual(Array.from(r2.tokens));
      expect(r1.calls.encode, predictor).toBe(1);
      expect(r1.text?.prompts.map((p) => p.prompt)).toEqual(['a red circle', 'two blue squares', '']);
    }
    expect(b.live.size).toBe(0);
    expect(b.liveText.size).toBe(0);
    expect(b.liveLogits.size).toBe(0);
  });

  it('encodes each distinct prompt once per call, and the negative prompt only when guided', async () => {
    const b = new TestBackend({ text: true });
    const r = await generate(b, { prompt: ['fox', 'owl', 'fox', 'owl'], negativePrompt: 'blurry', steps: 4, seed: 1 });
    expect(b.counts.encode).toBe(1);
    expect(b.counts.encodedPrompts).toBe(3);
    expect(r.text).toEqual({
      prompts: [
        { prompt: 'fox', length: 3, truncated: false },
        { prompt: 'owl', length: 3, truncated: false },
        { prompt: 'blurry', length: 3, truncated: false },
      ],
      truncated: false,
    });
    await generate(b, { prompt: 'fox', batch: 3, guidance: 0, steps: 4, seed: 1 });
    expect(b.counts.encodedPrompts).toBe(4);
    // Guided rows use the negative prompt: another negative prompt gives other images.
    const a = await generate(b, { prompt: 'a red circle', steps: 4, seed: 2 });
    const c = await generate(b, { prompt: 'a red circle', negativePrompt: 'two blue squares', steps: 4, seed: 2 });
    expect(Array.from(a.tokens)).not.toEqual(Array.from(c.tokens));
  });

  it('gives an image the same tokens whatever its batch-mates (the seed fixes every draw)', async () => {
    const b = new TestBackend({ text: true });
    const both = await generate(b, { prompt: ['a tree', 'a red circle on a plate'], steps: 5, seed: 11 });
    const alone = await generate(b, { prompt: 'a tree', steps: 5, seed: 11 });
    const L = b.manifest.tokens.count;
    expect(Array.from(both.tokens.subarray(0, L))).toEqual(Array.from(alone.tokens));
    const other = await generate(b, { prompt: 'a red circle on a plate', steps: 5, seed: 11 });
    expect(Array.from(alone.tokens)).not.toEqual(Array.from(other.tokens));
  });

  it('says when a prompt was longer than maxLength tokens and was truncated', async () => {
    const b = new TestBackend({ text: true });
    const long = 'one two three four five six seven eight nine ten eleven twelve thirteen';
    const r = await generate(b, { prompt: [long, 'short'], steps: 4, seed: 1 });
    expect(r.text?.truncated).toBe(true);
    expect(r.text?.prompts[0]).toEqual({ prompt: long, length: 15, truncated: true });
    expect(r.text?.prompts[1]?.truncated).toBe(false);
  });

  it('uses the manifest micro-conditioning unless the call gives its own', async () => {
    const b = new TestBackend({ text: true });
    const a = await generate(b, { prompt: 'a tree', steps: 4, seed: 4 });
    const same = await generate(b, { prompt: 'a tree', steps: 4, seed: 4, microConditioning: [8, 8, 0, 0, 6] });
    const other = await generate(b, { prompt: 'a tree', steps: 4, seed: 4, microConditioning: [8, 8, 0, 0, 60] });
    expect(Array.from(same.tokens)).toEqual(Array.from(a.tokens));
    expect(Array.from(other.tokens)).not.toEqual(Array.from(a.tokens));
  });

  it('refuses a class for a text bundle, a prompt for a class bundle, and prompts that are not strings, naming the option', async () => {
    const text = new TestBackend({ text: true });
    const cls = new TestBackend();
    const cases: [TestBackend, GenerateOptions, string][] = [
      [text, { condition: 1 }, "'condition'"],
      [text, {}, "'prompt'"],
      [text, { prompt: 42 as unknown as string }, "'prompt'"],
      [text, { prompt: null as unknown as string }, "'prompt'"],
      [text, { prompt: ['a', 7 as unknown as string] }, "'prompt[1]'"],
      [text, { prompt: ['a', 'b'], batch: 3 }, "'prompt'"],
      [text, { prompt: 'a', negativePrompt: 5 as unknown as string }, "'negativePrompt'"],
      [text, { prompt: 'a', batch: 2, negativePrompt: ['x'] }, "'negativePrompt'"],
      [text, { prompt: 'a', microConditioning: [1, 2] }, "'microConditioning'"],
      [text, { prompt: 'a', microConditioning: [1, 2, 3, 4, Number.NaN] }, "'microConditioning'"],
      [text, { prompt: 'x'.repeat(100_001) }, "'prompt'"],
      [cls, { prompt: 'a cat' }, "'prompt'"],
      [cls, { negativePrompt: 'a cat' }, "'negativePrompt'"],
      [cls, { condition: 0, microConditioning: [1] }, "'microConditioning'"],
    ];
    for (const [backend, options, option] of cases) {
      const got = await code(() => generate(backend, options));
      expect(got?.code, JSON.stringify(options).slice(0, 80)).toBe('INVALID_OPTION');
      expect(got?.message).toContain(option);
    }
    expect((await code(() => generate(text, { condition: 1 })))?.message).toMatch(/conditioned on text/);
    expect((await code(() => generate(cls, { prompt: 'a cat' })))?.message).toMatch(/conditioned on a class id/);
    // Nothing ran for a refused call.
    expect(text.counts.encode + text.counts.forward + cls.counts.forward).toBe(0);
  });

  it('refuses a text bundle on a backend without a tokenizer (UNSUPPORTED)', async () => {
    const b = new TestBackend({ text: true });
    const bare = Object.assign(Object.create(Object.getPrototypeOf(b)) as TestBackend, b);
    Object.defineProperty(bare, 'tokenizer', { value: undefined });
    Object.defineProperty(bare, 'capabilities', { value: { ...b.capabilities, text: false } });
    Object.defineProperty(bare, 'encodeText', { value: undefined });
    expect((await code(() => generate(bare, { prompt: 'a' })))?.code).toBe('UNSUPPORTED');
  });

  it('releases the text handle when a run is aborted or fails mid-way', async () => {
    const b = new TestBackend({ text: true });
    const controller = new AbortController();
    b.onCall = (m) => {
      if (m === 'forward' && b.counts.forward === 2) controller.abort();
    };
    expect((await code(() => generate(b, { prompt: 'a tree', steps: 6, seed: 1, signal: controller.signal })))?.code).toBe('ABORTED');
    expect(b.liveText.size).toBe(0);
    expect(b.live.size).toBe(0);
  });
});
