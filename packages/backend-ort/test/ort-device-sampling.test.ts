// OrtBackend's device sampler: logits handles (typed errors, release, dispose), sampleStep's checks and
// non-finite logits, and generate() with sampler 'device' giving the host sampler's tokens on the tiny bundle.
import { describe, expect, it } from 'vitest';
import { createSamplerScratch, RandomStreams } from '@migm/core/sampling';
import { drawStepUniforms, sampleStepHost, type DeviceSampleStep } from '@migm/core/backend';
import { generate } from '@migm/core';
import { tinyBackend } from './helpers.js';

function stepOf(B: number, guided: boolean, state: Int32Array, uniforms: Float64Array, count: number): DeviceSampleStep {
  return {
    batch: B,
    guided,
    weight: 3,
    invTemp: 1,
    noiseScale: 2,
    state,
    uniforms,
    count,
    revealedPositions: new Int32Array(B * count),
    revealedTokens: new Int32Array(B * count),
  };
}

describe('OrtBackend device sampling', () => {
  it('is off by default: no createLogits/sampleStep, and forward refuses a handle-like object', async () => {
    const b = await tinyBackend();
    expect(b.capabilities.deviceSampling).toBe(false);
    expect(b.createLogits).toBeUndefined();
    expect(b.sampleStep).toBeUndefined();
    const { count: L, maskId } = b.manifest.tokens;
    await expect(
      b.forward({ tokens: new Int32Array(L).fill(maskId), classes: Int32Array.of(0), rows: 1, logits: { kind: 'logits', dims: [1, L, 16] } }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await b.dispose();
  });

  it('checks handles: rows, foreign and released handles, bad steps; dispose frees them all', async () => {
    const b = await tinyBackend({ deviceSampling: true });
    const other = await tinyBackend({ deviceSampling: true });
    const { count: L, codebookSize: K, maskId } = b.manifest.tokens;
    for (const rows of [0, 1.5, -1, 9000]) expect(() => b.createLogits!(rows)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    const h = b.createLogits!(2);
    expect(h.dims).toEqual([2, L, K]);
    const tokens = new Int32Array(4 * L).fill(maskId);
    await expect(b.forward({ tokens, classes: Int32Array.of(0, 1, 10, 10), rows: 4, logits: h })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/2 rows, 4 are written/),
    });
    const foreign = other.createLogits!(2);
    await expect(b.forward({ tokens: tokens.subarray(0, 2 * L), classes: Int32Array.of(0, 10), rows: 2, logits: foreign })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
    const f = await b.forward({ tokens: tokens.subarray(0, 2 * L), classes: Int32Array.of(0, 10), rows: 2, logits: h });
    await b.head(f, h);
    await b.guidedHead!(f, 1.5, h);
    b.release(f);
    const state = new Int32Array(L).fill(maskId);
    const uniforms = new Float64Array(2 * L);
    drawStepUniforms(state, maskId, 1, L, new RandomStreams(1, 1), uniforms);
    await expect(b.sampleStep!(h, { ...stepOf(1, true, state, uniforms, 2), uniforms: new Float64Array(3) })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(b.sampleStep!(h, stepOf(2, true, new Int32Array(2 * L).fill(maskId), new Float64Array(4 * L).fill(0.5), 1))).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/reads 4 rows/),
    });
    await expect(b.sampleStep!(foreign, stepOf(1, true, state, uniforms, 2))).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await b.sampleStep!(h, stepOf(1, true, state, uniforms, 2));
    expect(b.liveLogits).toBe(1);
    b.release(h);
    expect(b.liveLogits).toBe(0);
    expect(() => b.release(h)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await expect(
      b.head(
        await b.forward({ tokens: tokens.subarray(0, L), classes: Int32Array.of(0), rows: 1, logits: new Float32Array(L * K) }).then((g) => (b.release(g), g)),
        h,
      ),
    ).rejects.toMatchObject({ code: 'DISPOSED' });
    const kept = b.createLogits!(1);
    await b.dispose();
    expect(b.liveLogits).toBe(0);
    await expect(b.sampleStep!(kept, stepOf(1, false, state, uniforms, 1))).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(() => b.createLogits!(1)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await other.dispose();
  });

  it('gives BACKEND_FAILURE naming image and position for non-finite logits, as the host sampler does', async () => {
    const b = await tinyBackend({ deviceSampling: true });
    const { count: L, codebookSize: K, maskId } = b.manifest.tokens;
    const h = b.createLogits!(4);
    const logits = Float32Array.from({ length: 4 * L * K }, (_, i) => Math.sin(i));
    logits[(1 * L + 5) * K + 3] = Number.NaN;
    b.writeLogits(h, logits);
    const state = new Int32Array(2 * L).fill(maskId);
    const uniforms = new Float64Array(4 * L);
    drawStepUniforms(state, maskId, 2, L, new RandomStreams(4, 2), uniforms);
    await expect(b.sampleStep!(h, stepOf(2, true, state, uniforms, 3))).rejects.toMatchObject({ code: 'BACKEND_FAILURE', details: { image: 1, position: 5 } });
    expect(() => sampleStepHost(logits, L, K, maskId, stepOf(2, true, state, uniforms, 3), createSamplerScratch(2, L, K), new Int32Array(2 * L))).toThrow(
      /image 1, position 5\b/,
    );
    await b.dispose();
  });

  it("generate() with sampler 'device' gives the host sampler's tokens (vanilla and shortcut, guided)", async () => {
    const b = await tinyBackend({ deviceSampling: true });
    for (const predictor of ['vanilla', 'shortcut'] as const) {
      for (const seed of [1, 2, 3]) {
        const options = { condition: [1, 4, null], seed, predictor, ...(predictor === 'shortcut' ? { budget: 3 } : {}) } as const;
        const device = await generate(b, { ...options, sampler: 'device' });
        const host = await generate(b, { ...options, sampler: 'host' });
        expect(device.sampler.device).toBe(true);
        expect(host.sampler.device).toBe(false);
        expect(Array.from(device.tokens)).toEqual(Array.from(host.tokens));
      }
    }
    expect(b.liveLogits).toBe(0);
    expect(b.liveFeatures).toBe(0);
    await b.dispose();
  });
});
