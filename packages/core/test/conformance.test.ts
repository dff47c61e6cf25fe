import { afterAll, describe, expect, it } from 'vitest';
import { backendConformance } from '../src/testing/conformance.js';
import { TestBackend } from '../src/testing/test-backend.js';
import type { Backend } from '../src/backend/types.js';

describe('backend conformance: TestBackend', () => {
  const { cases, cleanup } = backendConformance({ create: async () => new TestBackend(), liveFeatures: (b) => (b as TestBackend).live.size });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('backend conformance: TestBackend with a device sampler', () => {
  const { cases, cleanup } = backendConformance({
    create: async () => new TestBackend({ deviceSampling: true }),
    liveFeatures: (b) => (b as TestBackend).live.size,
  });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('backend conformance: TestBackend without a shortcut', () => {
  const { cases, cleanup } = backendConformance({ create: async () => new TestBackend({ shortcut: false }) });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('backend conformance: TestBackend whose head is not declared affine', () => {
  const { cases, cleanup } = backendConformance({ create: async () => new TestBackend({ affineHead: false }) });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('backend conformance: TestBackend conditioned on text', () => {
  const { cases, cleanup } = backendConformance({
    create: async () => new TestBackend({ text: true }),
    liveFeatures: (b) => (b as TestBackend).live.size,
  });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('backend conformance: TestBackend conditioned on text, with a device sampler and no shortcut', () => {
  const { cases, cleanup } = backendConformance({
    create: async () => new TestBackend({ text: true, deviceSampling: true, shortcut: false }),
    liveFeatures: (b) => (b as TestBackend).live.size,
  });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('the conformance suite catches broken text backends', () => {
  async function failures(mutate: (b: TestBackend) => void): Promise<string[]> {
    const { cases, cleanup } = backendConformance({
      create: async () => {
        const b = new TestBackend({ text: true });
        mutate(b);
        return b;
      },
    });
    const failed: string[] = [];
    for (const c of cases) {
      try {
        await c.run();
      } catch {
        failed.push(c.name);
      }
    }
    await cleanup();
    return failed;
  }
  const textCase = 'text bundles: the tokenizer pads, truncates and reports; a prompt encodes the same whatever its batch-mates; text handles are checked';

  it('an encoder that mixes a prompt with its batch-mates, or encodes every prompt alike', async () => {
    expect(
      await failures((b) => {
        const encode = b.encodeText.bind(b);
        // Encodes every prompt of a call as its first one: batch-mates change what a prompt means.
        b.encodeText = async (ids, count) => {
          const T = ids.length / count;
          const same = new Int32Array(ids.length);
          for (let n = 0; n < count; n++) same.set(ids.subarray(0, T), n * T);
          return encode(same, count);
        };
      }),
    ).toContain(textCase);
  });

  it('a tokenizer that does not say it truncated', async () => {
    expect(
      await failures((b) => {
        const encode = b.tokenizer!.encode.bind(b.tokenizer);
        b.tokenizer!.encode = (p) => ({ ...encode(p), truncated: false });
      }),
    ).toContain(textCase);
  });

  it('a backend that keeps a released text handle usable', async () => {
    expect(
      await failures((b) => {
        const release = b.release.bind(b);
        b.release = (x) => {
          if ((x as { kind?: string }).kind !== 'text') release(x);
        };
      }),
    ).toContain(textCase);
  });
});

describe('the conformance suite catches broken backends', () => {
  async function failures(mutate: (b: TestBackend) => void, deviceSampling = false): Promise<string[]> {
    const { cases, cleanup } = backendConformance({
      create: async () => {
        const b = new TestBackend({ deviceSampling });
        mutate(b);
        return b;
      },
    });
    const failed: string[] = [];
    for (const c of cases) {
      try {
        await c.run();
      } catch {
        failed.push(c.name);
      }
    }
    await cleanup();
    return failed;
  }

  it('a device sampler that breaks position ties the other way, or ignores the noise scale', async () => {
    const failed = await failures((b) => {
      const sample = b.sampleStep.bind(b);
      b.sampleStep = async (logits, step) => sample(logits, { ...step, noiseScale: 0 });
    }, true);
    expect(failed).toContain('a device sampler commits what the host sampler commits on the same logits and random numbers');
    const skewed = await failures((b) => {
      const sample = b.sampleStep.bind(b);
      // Draws from a flattened distribution: same positions, wrong token frequencies.
      b.sampleStep = async (logits, step) => sample(logits, { ...step, invTemp: step.invTemp * 0.2 });
    }, true);
    expect(skewed).toContain('device sampler draws follow the softmax (chi-square) and its handles are checked');
  });

  it('a head that disagrees with forward', async () => {
    const failed = await failures((b) => {
      const head = b.head.bind(b);
      (b as Backend).head = async (f, logits) => {
        await head(f, logits);
        (logits as Float32Array)[0]! += 1;
      };
    });
    expect(failed).toContain('head(forward feature) reproduces forward logits');
  });

  it('a combine that ignores a coefficient', async () => {
    const failed = await failures((b) => {
      const combine = b.combine.bind(b);
      (b as Backend).combine = (terms) => combine(terms.map((t) => ({ ...t, coef: 1 })));
    });
    expect(failed).toContain('combine matches the host reference (f + dt * v and Taylor weights)');
  });

  it('a guidedHead that ignores the weight', async () => {
    const failed = await failures((b) => {
      const guidedHead = b.guidedHead!.bind(b);
      (b as Backend).guidedHead = (f, _w, logits) => guidedHead(f, 1, logits);
    });
    expect(failed).toContain('guidedHead (when offered) gives the guided logits of head() and refuses bad shapes');
  });

  it('a release that does nothing', async () => {
    const failed = await failures((b) => {
      (b as Backend).release = () => {};
    });
    expect(failed).toContain('released features cannot be used or released again');
  });
});
