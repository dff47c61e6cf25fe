import { describe, expect, it } from 'vitest';
import { generate } from '../src/generate/generate.js';
import { isMigmError } from '../src/errors.js';
import { TestBackend } from '../src/testing/test-backend.js';
import { PREDICTORS } from '../src/predictors/registry.js';
import { RandomStreams } from '../src/random/prng.js';
import { createSamplerScratch, commitTopConfidence, sampleMaskedPositions } from '../src/sampling/step-sampler.js';
import { drawStepUniforms, sampleStepHost } from '../src/sampling/step-uniforms.js';
import { checkSampleStep } from '../src/backend/check-sample-step.js';

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string } | null> {
  try {
    await p;
  } catch (e) {
    if (isMigmError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  return null;
}

describe('device sampling: uniforms drawn in the host order give the host tokens', () => {
  it('sampleStepHost on drawStepUniforms equals sampleMaskedPositions + commitTopConfidence on the same streams', () => {
    const B = 3,
      L = 25,
      K = 11,
      maskId = K;
    const gen = new RandomStreams(9, 1);
    for (const guided of [false, true]) {
      const rows = guided ? 2 * B : B;
      const logits = Float32Array.from({ length: rows * L * K }, () => (gen.uniform(0) - 0.5) * 8);
      const state = new Int32Array(B * L).fill(maskId);
      for (let b = 0; b < B; b++) for (let p = 0; p < L; p += 3) state[b * L + p] = p % K; // same masked count per image
      const a = new RandomStreams(4, B);
      const hostState = state.slice();
      const scratch = createSamplerScratch(B, L, K);
      sampleMaskedPositions(
        {
          logits,
          guided,
          batch: B,
          tokens: L,
          vocab: K,
          state: hostState,
          maskId,
          weight: 2.5,
          invTemp: 1.3,
          noiseScale: 3,
          draw: 'inverse-cdf',
          topK: 0,
          topP: 1,
          rng: a,
        },
        scratch,
      );
      const hp = new Int32Array(B * 5),
        ht = new Int32Array(B * 5);
      const k = commitTopConfidence(hostState, maskId, B, L, 5, scratch, hp, ht);

      const b2 = new RandomStreams(4, B);
      const uniforms = new Float64Array(2 * B * L);
      drawStepUniforms(state, maskId, B, L, b2, uniforms);
      const dp = new Int32Array(B * 5),
        dt = new Int32Array(B * 5);
      const k2 = sampleStepHost(
        logits,
        L,
        K,
        maskId,
        { batch: B, guided, weight: 2.5, invTemp: 1.3, noiseScale: 3, state, uniforms, count: 5, revealedPositions: dp, revealedTokens: dt },
        createSamplerScratch(B, L, K),
        new Int32Array(B * L),
      );
      expect(k2).toBe(k);
      expect(Array.from(dp)).toEqual(Array.from(hp));
      expect(Array.from(dt)).toEqual(Array.from(ht));
      // Both consumed the same draws: the streams are in the same state afterwards.
      expect(Array.from(b2.state)).toEqual(Array.from(a.state));
      // Unmasked entries are zero.
      expect(uniforms[0]).toBe(0);
    }
  });

  it('checkSampleStep refuses bad steps with what is allowed', () => {
    const be = new TestBackend({ deviceSampling: true });
    const L = 16,
      maskId = 8;
    const h = be.createLogits(2);
    const ok = {
      batch: 1,
      guided: true,
      weight: 1,
      invTemp: 1,
      noiseScale: 1,
      state: new Int32Array(L).fill(maskId),
      uniforms: new Float64Array(2 * L),
      count: 3,
      revealedPositions: new Int32Array(3),
      revealedTokens: new Int32Array(3),
    };
    expect(checkSampleStep(be.manifest, h, ok)).toBe(L);
    const bad = (patch: object, text: RegExp) => expect(() => checkSampleStep(be.manifest, h, { ...ok, ...patch })).toThrow(text);
    bad({ batch: 2 }, /state\.length|rows/);
    bad({ count: 17 }, /count is 17; an integer from 1 to the masked positions per image \(16\)/);
    bad({ uniforms: new Float32Array(2 * L) }, /uniforms/);
    bad({ weight: NaN }, /weight is NaN/);
    bad({ revealedTokens: new Int32Array(2) }, /revealedTokens/);
    bad({ state: new Int32Array(L).fill(maskId + 1) }, /state\[0\] is 9/);
    const uneven = new Int32Array(2 * L).fill(maskId);
    uneven[L] = 0;
    expect(() =>
      checkSampleStep(be.manifest, be.createLogits(4), {
        ...ok,
        batch: 2,
        state: uneven,
        uniforms: new Float64Array(4 * L),
        revealedPositions: new Int32Array(6),
        revealedTokens: new Int32Array(6),
      }),
    ).toThrow(/same number of masked positions/);
  });
});

describe('generate() with a device sampler', () => {
  it('gives the same tokens as the host sampler for every predictor, guided or not, and frees its logits', async () => {
    for (const predictor of PREDICTORS) {
      for (const condition of [[0, 2, 1], null] as const) {
        const opts = { condition, batch: 3, steps: 8, predictor, seed: 7, ...(predictor === 'vanilla' ? {} : { budget: 3 }) };
        const host = await generate(new TestBackend(), opts);
        const be = new TestBackend({ deviceSampling: true });
        const dev = await generate(be, opts);
        expect(dev.sampler).toEqual({ device: true, reason: null });
        expect(host.sampler.device).toBe(false);
        expect(Array.from(dev.tokens)).toEqual(Array.from(host.tokens));
        expect(dev.calls.sample).toBe(8);
        expect(be.liveLogits.size).toBe(0);
        expect(be.live.size).toBe(0);
      }
    }
  });

  it("falls back to the host with the reason for options the device path lacks; 'device' refuses them", async () => {
    const be = new TestBackend({ deviceSampling: true });
    const r = await generate(be, { condition: 1, steps: 6, predictor: 'vanilla', topK: 3, seed: 2 });
    expect(r.sampler).toEqual({ device: false, reason: 'topK filtering runs on the host only' });
    expect(be.counts.sample).toBe(0);
    expect((await generate(be, { condition: 1, steps: 6, predictor: 'vanilla', draw: 'gumbel-max', seed: 2 })).sampler.reason).toMatch(/gumbel-max/);
    expect((await generate(be, { condition: 1, steps: 6, predictor: 'vanilla', sampler: 'host', seed: 2 })).sampler.reason).toMatch(/'host' was asked/);
    const e = await errorOf(generate(be, { condition: 1, steps: 6, predictor: 'vanilla', topP: 0.9, sampler: 'device', seed: 2 }));
    expect(e?.code).toBe('UNSUPPORTED');
    expect(e?.message).toMatch(/topP filtering runs on the host only/);
    const plain = await errorOf(generate(new TestBackend(), { sampler: 'device', seed: 1 }));
    expect(plain?.message).toMatch(/has no device sampler/);
    expect((await errorOf(generate(be, { sampler: 'gpu' as never, seed: 1 })))?.message).toMatch(/allowed: "auto", "host", "device"/);
  });

  it('releases the logits handle when a run is aborted or the backend fails mid-run', async () => {
    const be = new TestBackend({ deviceSampling: true });
    const ac = new AbortController();
    let n = 0;
    be.onCall = (m) => {
      if (m === 'sample' && ++n === 3) ac.abort();
    };
    expect((await errorOf(generate(be, { condition: 0, steps: 8, signal: ac.signal, seed: 1 })))?.code).toBe('ABORTED');
    expect(be.liveLogits.size).toBe(0);
    expect(be.live.size).toBe(0);
  });

  it('NaN logits are BACKEND_FAILURE naming image and position, as on the host', async () => {
    class NanBackend extends TestBackend {
      override async sampleStep(...args: Parameters<TestBackend['sampleStep']>) {
        (args[0] as unknown as { data: Float32Array }).data[3 * 8] = NaN; // position 3 of image 0
        return super.sampleStep(...args);
      }
    }
    const e = await errorOf(generate(new NanBackend({ deviceSampling: true }), { condition: 0, steps: 4, predictor: 'vanilla', seed: 1 }));
    expect(e?.code).toBe('BACKEND_FAILURE');
    expect(e?.message).toMatch(/image 0, position 3/);
  });
});
