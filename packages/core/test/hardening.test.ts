import { describe, expect, it } from 'vitest';
import { closestKey, type ForwardInput } from '../src/backend.js';
import { estimateRunBytes, generate, tileImages, type Backend } from '../src/index.js';
import { MAX_SCALE } from '../src/sampling.js';
import { TestBackend } from '../src/testing/index.js';

/** A TestBackend whose base model writes `value` into one logit of image 0 at the first full step. */
class PoisonedBackend extends TestBackend {
  constructor(readonly value: number) {
    super();
  }
  override async forward(input: ForwardInput) {
    const f = await super.forward(input);
    (input.logits as Float32Array)[5] = this.value;
    return f;
  }
}

describe('generate() options: unknown keys, null and bounds', () => {
  it('refuses an unknown key, naming the closest valid one, before any model call', async () => {
    const b = new TestBackend();
    await expect(generate(b, { budjet: 3 } as never)).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining("did you mean 'budget'?"),
    });
    await expect(generate(b, { Steps: 3 } as never)).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining("did you mean 'steps'?"),
    });
    await expect(generate(b, { zzzzzzzzzz: 1 } as never)).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.not.stringContaining('did you mean'),
    });
    expect(b.counts.forward).toBe(0);
    expect(closestKey('inverseTemprature', ['inverseTemperature', 'topP'])).toBe('inverseTemperature');
  });

  it('null means the default for every option but condition (where it means unconditional)', async () => {
    const nulls = {
      steps: null,
      budget: null,
      topK: null,
      topP: null,
      seed: 7,
      guidance: null,
      draw: null,
      predictor: null,
      signal: null,
      onStep: null,
    } as never;
    const a = await generate(new TestBackend(), nulls);
    const b = await generate(new TestBackend(), { seed: 7 });
    expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
    const u = await generate(new TestBackend(), { condition: null, seed: 7 });
    expect(Array.from(u.tokens)).toEqual(Array.from(b.tokens));
  });

  it('refuses finite but extreme scales that would overflow to NaN logits', async () => {
    const b = new TestBackend();
    for (const [key, value] of [
      ['inverseTemperature', 1e307],
      ['guidance', 1e38],
      ['randomizeTemperature', 1e300],
      ['skippedRandomizeTemperature', MAX_SCALE * 2],
    ] as const) {
      await expect(generate(b, { condition: 0, [key]: value }), key).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        message: expect.stringContaining(String(MAX_SCALE)),
      });
    }
    await expect(generate(b, { condition: 0, guidance: { scale: 5000, schedule: 'linear' } })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('guidance'),
    });
    expect(b.counts.forward).toBe(0);
    await expect(generate(b, { condition: 0, inverseTemperature: MAX_SCALE, guidance: MAX_SCALE, seed: 1 })).resolves.toBeDefined();
  });

  it('refuses a backend that is not one with INVALID_OPTION, not a TypeError', async () => {
    for (const bad of [null, undefined, 42, {}, { forward: 1 }]) {
      await expect(generate(bad as unknown as Backend)).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining("'backend'") });
    }
    await expect(generate(new TestBackend(), null as never)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(generate(new TestBackend(), [] as never)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});

describe('capabilities stated once', () => {
  it('a backend (or wrapper) whose flags and methods disagree is refused, not silently degraded', async () => {
    const inner = new TestBackend();
    const wrapper = {
      name: 'wrapper',
      device: 'cpu',
      manifest: inner.manifest,
      capabilities: inner.capabilities,
      forward: inner.forward.bind(inner),
      head: inner.head.bind(inner),
      combine: inner.combine.bind(inner),
      readFeature: inner.readFeature.bind(inner),
      release: inner.release.bind(inner),
      decode: inner.decode.bind(inner),
      dispose: inner.dispose.bind(inner),
    } as unknown as Backend;
    await expect(generate(wrapper, { steps: 2 })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('claims capabilities.velocity but has no velocity() method'),
    });
    (wrapper as { velocity?: unknown }).velocity = inner.velocity!.bind(inner);
    await expect(generate(wrapper, { steps: 2 })).rejects.toThrow(/claims capabilities.guidedHead but has no guidedHead\(\) method/);
    (wrapper as { guidedHead?: unknown }).guidedHead = inner.guidedHead!.bind(inner);
    await expect(generate(wrapper, { steps: 2, seed: 1 })).resolves.toBeDefined();
    expect(inner.counts.forward).toBe(2);
  });
});

describe('tileImages() options', () => {
  it('refuses unknown keys and a non-image with INVALID_OPTION', () => {
    const images = { data: new Float32Array(4), batch: 1, channels: 1 as const, height: 2, width: 2 };
    expect(() => tileImages(images, { colums: 2 } as never)).toThrow(/did you mean 'columns'/);
    expect(() => tileImages(null as never)).toThrow(/'images'/);
    expect(tileImages(images, { scale: null } as never).width).toBe(2 + 2 * 2);
  });
});

describe('generate() refuses non-finite logits', () => {
  for (const value of [Number.NaN, Infinity, -Infinity]) {
    it(`a model returning ${value} is BACKEND_FAILURE naming image and position, for both draws`, async () => {
      for (const draw of ['inverse-cdf', 'gumbel-max'] as const) {
        const b = new PoisonedBackend(value);
        const err = await generate(b, { draw, seed: 1 }).catch((e: Error) => e);
        if (value === -Infinity) {
          // One -Infinity logit is a token with probability 0: legal, and never drawn.
          expect(err).not.toBeInstanceOf(Error);
          continue;
        }
        expect(err).toMatchObject({ code: 'BACKEND_FAILURE', message: expect.stringMatching(/not finite.*image 0, position 0/) });
        expect(b.live.size).toBe(0);
      }
    });
  }
});

describe('batch cap from a memory estimate', () => {
  it('says the estimate per image and the largest batch that fits; memoryLimit moves it', async () => {
    const b = new TestBackend({ side: 16, codebookSize: 256, featureDim: 64 });
    const { perImage } = estimateRunBytes(b.manifest, 1, true);
    const limit = 64 * 1024 ** 2;
    const fits = Math.floor(limit / perImage);
    const err = await generate(b, { condition: 0, batch: fits + 1, memoryLimit: limit }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining(`at most ${fits} images per call fit`) });
    expect((err as Error).message).toContain(`${(perImage / 1e6).toFixed(1)} MB per image with guidance`);
    expect(b.counts.forward).toBe(0);
    // Unguided runs need half: the same batch fits.
    expect(estimateRunBytes(b.manifest, fits + 1, false).bytes).toBeLessThan(limit);
    await expect(generate(b, { condition: null, batch: fits + 1, memoryLimit: limit, steps: 2 })).resolves.toBeDefined();
    await expect(generate(b, { memoryLimit: 5 })).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('memoryLimit') });
  });

  it('estimates 8.6 MB per guided image for the default bundle shape (measured there: 8.7 MB at batch 256)', () => {
    const m = { tokens: { count: 196, codebookSize: 256 }, featureDim: 128 } as never;
    expect(estimateRunBytes(m, 1, true).perImage / 1e6).toBeCloseTo(8.6, 0);
  });
});

describe('abort from the last step listener', () => {
  it('rejects with ABORTED instead of returning a result', async () => {
    const controller = new AbortController();
    const p = generate(new TestBackend(), {
      steps: 4,
      seed: 1,
      signal: controller.signal,
      onStep: (e) => {
        if (e.step === e.steps - 1) controller.abort();
      },
    });
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
