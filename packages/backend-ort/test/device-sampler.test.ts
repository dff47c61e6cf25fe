// The device sampler graph against core's reference (sampleStepHost) on synthetic logits: identical committed
// positions and tokens on CPU onnxruntime in float64, including ties, near-zero probabilities, guidance and
// k = all masked positions; non-finite logits give core's typed error naming image and position.
import { afterAll, describe, expect, it } from 'vitest';
import { createSamplerScratch, RandomStreams } from '@migm/core/sampling';
import { drawStepUniforms, sampleStepHost, type DeviceSampleStep } from '@migm/core/backend';
import { isMigmError, type Manifest } from '@migm/core';
import { testManifest } from '@migm/core/testing';
import * as ort from 'onnxruntime-node';
import { DeviceSampler, type SamplerOrt } from '../src/device-sampler.js';

const L = 24;
const K = 40;
const manifest = { ...testManifest(), tokens: { ...testManifest().tokens, count: L, codebookSize: K, maskId: K } } as Manifest;
const sampler = new DeviceSampler({
  ort: ort as unknown as SamplerOrt,
  manifest,
  precision: 'float64',
  sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: 1 },
  where: 'test',
});
afterAll(() => sampler.release());

/** A state [B, L] with the same `masked` positions masked per image (different positions per image). */
function stateOf(B: number, masked: number, seed: number): Int32Array {
  const rng = new RandomStreams(seed, 1);
  const s = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const order = Array.from({ length: L }, (_, i) => i).sort(() => rng.uniform(0) - 0.5);
    for (let i = 0; i < L; i++) s[b * L + order[i]!] = i < masked ? K : (b + i) % K;
  }
  return s;
}

function stepOf(B: number, guided: boolean, state: Int32Array, uniforms: Float64Array, count: number, extra: Partial<DeviceSampleStep> = {}): DeviceSampleStep {
  return {
    batch: B,
    guided,
    weight: 2.5,
    invTemp: 1.3,
    noiseScale: 4,
    state,
    uniforms,
    count,
    revealedPositions: new Int32Array(B * count),
    revealedTokens: new Int32Array(B * count),
    ...extra,
  };
}

async function compare(logits: Float32Array, step: DeviceSampleStep): Promise<{ same: number; total: number }> {
  const B = step.batch;
  const want = { ...step, revealedPositions: new Int32Array(B * step.count), revealedTokens: new Int32Array(B * step.count) };
  sampleStepHost(logits, L, K, K, want, createSamplerScratch(B, L, K), new Int32Array(B * L));
  const masked = Array.from(step.state.subarray(0, L)).filter((t) => t === K).length;
  await sampler.run(new ort.Tensor('float32', logits, [logits.length / (L * K), L, K]) as never, step, masked);
  expect(Array.from(step.revealedPositions)).toEqual(Array.from(want.revealedPositions));
  expect(Array.from(step.revealedTokens)).toEqual(Array.from(want.revealedTokens));
  return { same: B * step.count, total: B * step.count };
}

function randomLogits(rows: number, seed: number, scale = 3): Float32Array {
  const rng = new RandomStreams(seed, 1);
  return Float32Array.from({ length: rows * L * K }, () => scale * (rng.uniform(0) + rng.uniform(0) + rng.uniform(0) - 1.5));
}

describe('DeviceSampler (onnxruntime-node, float64) against sampleStepHost', () => {
  for (const guided of [true, false]) {
    it(`commits the same tokens, ${guided ? 'guided' : 'plain'}, k from 1 to all masked`, async () => {
      for (const B of [1, 3]) {
        for (const masked of [1, 7, L]) {
          for (let seed = 1; seed <= 4; seed++) {
            const state = stateOf(B, masked, seed);
            const logits = randomLogits(guided ? 2 * B : B, seed * 7 + B);
            const uniforms = new Float64Array(2 * B * L);
            drawStepUniforms(state, K, B, L, new RandomStreams(seed, B), uniforms);
            for (const count of new Set([1, Math.max(1, masked >> 1), masked])) await compare(logits, stepOf(B, guided, state, uniforms, count));
          }
        }
      }
    });
  }

  it('guided with weight 0 reads the conditional rows only, like the host', async () => {
    const state = stateOf(2, 10, 3);
    const logits = randomLogits(4, 9);
    logits.fill(Number.NaN, 2 * L * K); // the unconditional rows are never read at weight 0
    const uniforms = new Float64Array(4 * L);
    drawStepUniforms(state, K, 2, L, new RandomStreams(5, 2), uniforms);
    await compare(logits, stepOf(2, true, state, uniforms, 4, { weight: 0 }));
  });

  it('breaks confidence ties by lower position (identical rows, no noise)', async () => {
    const B = 2;
    const state = stateOf(B, 16, 8);
    const row = randomLogits(1, 4).subarray(0, K);
    const logits = new Float32Array(B * L * K);
    for (let r = 0; r < B * L; r++) logits.set(row, r * K);
    const uniforms = new Float64Array(2 * B * L);
    for (let i = 0; i < B * L; i++) if (state[i] === K) uniforms.set([0.37, 0.5], 2 * i); // same draw everywhere
    for (const count of [1, 5, 16]) await compare(logits, stepOf(B, false, state, uniforms, count, { noiseScale: 0 }));
  });

  it('handles near-zero and zero probabilities (spread of 700+ nats, -inf entries) and extreme uniforms', async () => {
    const B = 2;
    const state = stateOf(B, 12, 2);
    const logits = randomLogits(2 * B, 11, 1);
    for (let r = 0; r < 2 * B * L; r++) {
      logits[r * K + (r % K)] = 700; // one dominant entry: the rest underflow towards 0
      // -inf in conditional rows only: -inf in both rows would give -inf + inf = NaN under guidance (an error).
      if (r < B * L) logits[r * K + ((r + 3) % K)] = -Infinity;
      logits[r * K + ((r + 5) % K)] = 700 - 30; // ~1e-13 of the mass
    }
    for (const [u0, u1] of [
      [1e-16, 1e-12],
      [1 - 2 ** -53, 1 - 1e-12],
      [0.5, 0.5],
    ] as const) {
      const uniforms = new Float64Array(2 * B * L);
      for (let i = 0; i < B * L; i++) if (state[i] === K) uniforms.set([u0, u1], 2 * i);
      await compare(logits, stepOf(B, false, state, uniforms, 6, { invTemp: 1 }));
      // Guided: w = 0.5 keeps the dominant entry dominant and -inf entries at -inf.
      await compare(logits, stepOf(B, true, state, uniforms, 6, { invTemp: 1, weight: 0.5 }));
    }
  });

  it('throws BACKEND_FAILURE naming the first masked image and position with non-finite logits', async () => {
    const B = 3;
    const state = stateOf(B, 10, 6);
    const uniforms = new Float64Array(2 * B * L);
    drawStepUniforms(state, K, B, L, new RandomStreams(2, B), uniforms);
    const maskedAt = (b: number, nth: number): number => Array.from({ length: L }, (_, p) => p).filter((p) => state[b * L + p] === K)[nth]!;
    const unmasked = Array.from({ length: L }, (_, p) => p).find((p) => state[p] !== K)!;
    const cases: [string, (l: Float32Array) => void, number, number][] = [
      ['NaN', (l) => (l[(1 * L + maskedAt(1, 3)) * K + 5] = Number.NaN), 1, maskedAt(1, 3)],
      ['+inf', (l) => (l[(2 * L + maskedAt(2, 0)) * K] = Infinity), 2, maskedAt(2, 0)],
      ['a row of -inf', (l) => l.fill(-Infinity, (1 * L + maskedAt(1, 1)) * K, (1 * L + maskedAt(1, 1) + 1) * K), 1, maskedAt(1, 1)],
      ['NaN in the unconditional row', (l) => (l[((B + 0) * L + maskedAt(0, 2)) * K + 1] = Number.NaN), 0, maskedAt(0, 2)],
    ];
    for (const [what, spoil, image, position] of cases) {
      const logits = randomLogits(2 * B, 3);
      spoil(logits);
      logits[unmasked * K] = Number.NaN; // an unmasked position's logits are never read, as on the host
      const step = stepOf(B, true, state, uniforms, 2);
      const err = await sampler.run(new ort.Tensor('float32', logits, [2 * B, L, K]) as never, step, 10).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isMigmError(err), what).toBe(true);
      expect(err).toMatchObject({ code: 'BACKEND_FAILURE', details: { image, position } });
      expect(() => sampleStepHost(logits, L, K, K, stepOf(B, true, state, uniforms, 2), createSamplerScratch(B, L, K), new Int32Array(B * L))).toThrow(
        new RegExp(`image ${image}, position ${position}\\b`),
      );
    }
  });

  it('states its traffic per step', () => {
    expect(sampler.traffic(5, 100, 10, true)).toEqual({ up: 2 * 5 * 100 * 4 + 2 * 5 * 100 * 8 + 16 + 8, down: 2 * 5 * 10 * 8 + 12 });
  });
});
