import { describe, expect, it } from 'vitest';
import { isMigmError } from '../../src/errors.js';
import { resolveOptions } from '../../src/generate/options.js';
import { BackendCalls } from '../../src/loop/backend-calls.js';
import { LogitsBuffer } from '../../src/loop/logits-buffer.js';
import { chooseSampler, deviceSampler, hostSampler, hostSamplerReason } from '../../src/loop/samplers.js';
import { TokenGrid } from '../../src/loop/token-grid.js';
import { RandomStreams } from '../../src/random/prng.js';
import { TestBackend } from '../../src/testing/test-backend.js';

const L = 16;
const K = 8;

describe('sampler choice', () => {
  const be = new TestBackend({ deviceSampling: true });
  const reason = (o: object, device = true) => hostSamplerReason(resolveOptions({ condition: 1, seed: 1, ...o }, be.manifest, true), be, device);
  it('the device whenever the backend has one and the options allow it; else the host, saying why', () => {
    expect(reason({})).toBeNull();
    expect(reason({}, false)).toMatch(/no device sampler/);
    expect(reason({ sampler: 'host' })).toMatch(/'host' was asked for/);
    expect(reason({ draw: 'gumbel-max' })).toMatch(/draw 'gumbel-max'/);
    expect(reason({ topK: 2 })).toMatch(/topK/);
    expect(reason({ topP: 0.5 })).toMatch(/topP/);
    expect(reason({ predictor: 'taylor', refresh: 'adaptive' })).toMatch(/adaptive/);
  });
  it("sampler 'device' that cannot run is UNSUPPORTED; 'auto' falls back", () => {
    const o = (x: object) => resolveOptions({ condition: 1, seed: 1, ...x }, be.manifest, true);
    expect(chooseSampler(o({}), be, true)).toEqual({ device: true, reason: null });
    expect(chooseSampler(o({ topK: 2 }), be, true)).toEqual({ device: false, reason: 'topK filtering runs on the host only' });
    try {
      chooseSampler(o({ sampler: 'device', topK: 2 }), be, true);
      expect.unreachable();
    } catch (e) {
      expect(isMigmError(e) && e.code).toBe('UNSUPPORTED');
      expect((e as Error).message).toMatch(/^sampler 'device' cannot run this call: topK/);
    }
  });
});

describe('host and device samplers', () => {
  /** Both samplers over the same logits (one forward, written to a host buffer and to a device buffer). */
  async function pair(guided: boolean) {
    const be = new TestBackend({ deviceSampling: true });
    const B = 2;
    const rows = guided ? 2 * B : B;
    const o = resolveOptions({ condition: [0, 2], seed: 3, guidance: guided ? 1.5 : 0 }, be.manifest, true);
    const host = new LogitsBuffer(be, B, rows, L * K, false);
    const device = new LogitsBuffer(be, B, rows, L * K, true);
    device.open();
    const input = { tokens: new Int32Array(rows * L).fill(K), classes: Int32Array.from({ length: rows }, (_, r) => (r < B ? [0, 2][r]! : 3)), rows };
    for (const l of [host, device]) be.release(await be.forward({ ...input, logits: l.target(rows) }));
    const grids = [new TokenGrid(B, L, K, 8), new TokenGrid(B, L, K, 8)] as const;
    const calls = new BackendCalls(be, undefined);
    const samplers = [
      hostSampler(o, grids[0], host, K, new RandomStreams(3, B)),
      deviceSampler(o, grids[1], device, be, calls, new RandomStreams(3, B)),
    ] as const;
    return { be, grids, samplers, calls };
  }

  for (const guided of [false, true]) {
    it(`draw the same tokens from the same seed (${guided ? 'guided' : 'unguided'}), step after step`, async () => {
      const { be, grids, samplers, calls } = await pair(guided);
      for (const [count, noiseScale] of [
        [3, 4.5],
        [5, 2],
        [0, 1],
        [20, 0],
      ] as const) {
        for (const s of samplers) await s.sample({ count, weight: 1.5, guided, noiseScale });
        expect(Array.from(grids[1].state)).toEqual(Array.from(grids[0].state));
        expect(Array.from(grids[1].positions())).toEqual(Array.from(grids[0].positions()));
        expect(grids[1].masked).toBe(grids[0].masked);
      }
      expect(grids[0].masked).toBe(0);
      expect(grids[0].state.every((t) => t >= 0 && t < K)).toBe(true);
      // Device: one sampleStep per step that commits something (not the count-0 step, nor once nothing is masked).
      expect(calls.counts.sample).toBe(3);
      expect(be.counts.sample).toBe(3);
    });
  }

  it('the host sampler reports the mean log p of what it committed (the adaptive refresh signal); the device none', async () => {
    const { samplers, grids } = await pair(false);
    await samplers[0].sample({ count: 0, weight: 0, guided: false, noiseScale: 1 });
    expect(samplers[0].meanCommittedLogProb()).toBeNaN();
    await samplers[0].sample({ count: 4, weight: 0, guided: false, noiseScale: 0 });
    const lp = samplers[0].meanCommittedLogProb();
    expect(lp).toBeLessThan(0);
    expect(lp).toBeGreaterThan(-Math.log(K) - 3);
    expect(grids[0].lastRevealed).toBe(4);
    expect(samplers[1].meanCommittedLogProb()).toBeNaN();
  });
});
