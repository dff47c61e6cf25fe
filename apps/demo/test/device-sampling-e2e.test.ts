// The device sampler of @migm/backend-web on WebGPU in Debian's Chromium (software adapter, SwiftShader): logits
// stay in a GPU buffer, a float32 onnxruntime graph samples them there, and only positions and ids come back.
// Each trial runs the real tiny model on a random token state into both a host buffer and a logits handle, samples
// the handle on the GPU with uniforms drawn here, and compares with core's reference (sampleStepHost, float64)
// on the same logits and uniforms. Parity is stated as a share: float32 on the GPU against float64 on the host
// can differ at float near-ties (a cumulative sum landing within 1e-7 of u0, two confidences within 1e-6).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createSamplerScratch, RandomStreams } from '@migm/core/sampling';
import { drawStepUniforms, sampleStepHost, type DeviceSampleStep } from '@migm/core/backend';
import { TINY_BUNDLE } from '../web/assets.mjs';
import { startServer } from '../web/serve.mjs';
import { buildDemo, hasChromium, launchChromium, openPage } from './chromium.js';

/** Share of committed (position, token) pairs that must equal the float64 host reference on WebGPU (float32). */
const MIN_SHARE = 0.99;

interface Trial {
  readonly guided: boolean;
  readonly batch: number;
  readonly count: number;
  readonly state: number[];
  readonly classes: number[];
  readonly uniforms: number[];
}
interface TrialResult {
  readonly logits: number[];
  readonly positions: number[];
  readonly tokens: number[];
  readonly error?: string;
}
interface PageRun {
  readonly device: string;
  readonly deviceSampling: boolean;
  readonly results: TrialResult[];
  readonly nonFinite: { code?: string; details?: unknown; message?: string };
  readonly released: { code?: string };
  readonly liveLogits: number;
}

describe.skipIf(!hasChromium)('device sampler on WebGPU in Chromium (software adapter)', () => {
  let browser: Browser;
  let server: { url: string; close: () => Promise<void> };
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    await buildDemo();
    server = await startServer({ mounts: { '/tiny/': TINY_BUNDLE } });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const open = (): Promise<Page> => openPage(browser, server.url + 'selftest.html', { errors: consoleErrors, selftest: true });

  it('commits the host reference tokens on real logits (share stated), checks non-finite logits and handles', async () => {
    const manifest = JSON.parse(await (await fetch(server.url + 'tiny/manifest.json')).text()) as {
      tokens: { count: number; codebookSize: number; maskId: number };
      condition: { numClasses: number; nullClassId: number };
    };
    const { count: L, codebookSize: K, maskId } = manifest.tokens;
    // Trials: random states (the same number masked per image), guided and plain, k from 1 to all masked.
    const trials: Trial[] = [];
    const rng = new RandomStreams(2026, 1);
    for (let t = 0; t < 60; t++) {
      const batch = 1 + (t % 3);
      const guided = t % 4 !== 3;
      const masked = 1 + Math.floor(rng.uniform(0) * L);
      const state = new Int32Array(batch * L);
      for (let b = 0; b < batch; b++) {
        const order = Array.from({ length: L }, (_, i) => i).sort(() => rng.uniform(0) - 0.5);
        order.forEach((p, i) => (state[b * L + p] = i < masked ? maskId : Math.floor(rng.uniform(0) * K)));
      }
      const count = [1, Math.max(1, masked >> 1), masked][t % 3]!;
      const uniforms = new Float64Array(2 * batch * L);
      drawStepUniforms(state, maskId, batch, L, new RandomStreams(t + 1, batch), uniforms);
      const classes = Array.from({ length: batch }, (_, b) => (t + b) % manifest.condition.numClasses);
      trials.push({
        guided,
        batch,
        count,
        state: Array.from(state),
        classes: guided ? [...classes, ...classes.map(() => manifest.condition.nullClassId)] : classes,
        uniforms: Array.from(uniforms),
      });
    }
    const page = await open();
    const run = (await page.evaluate(
      async ([trials, L, K]) => {
        type B = {
          device: string;
          capabilities: { deviceSampling?: boolean };
          liveLogits: number;
          forward(i: unknown): Promise<unknown>;
          release(x: unknown): void;
          createLogits(rows: number): unknown;
          sampleStep(h: unknown, s: unknown): Promise<void>;
          writeLogits(h: unknown, v: Float32Array): void;
          dispose(): Promise<void>;
        };
        const st = (globalThis as unknown as { selftest: { backend(d: string, u: string): Promise<B> } }).selftest;
        const b = await st.backend('webgpu', '/tiny/');
        const results = [];
        const stepOf = (t: (typeof trials)[number]) => ({
          batch: t.batch,
          guided: t.guided,
          weight: 2,
          invTemp: 1,
          noiseScale: 3,
          state: Int32Array.from(t.state),
          uniforms: Float64Array.from(t.uniforms),
          count: t.count,
          revealedPositions: new Int32Array(t.batch * t.count),
          revealedTokens: new Int32Array(t.batch * t.count),
        });
        for (const t of trials) {
          const rows = t.classes.length;
          const tokens = new Int32Array(rows * L);
          for (let r = 0; r < rows; r++) tokens.set(t.state.slice((r % t.batch) * L, ((r % t.batch) + 1) * L), r * L);
          const host = new Float32Array(rows * L * K);
          const handle = b.createLogits(6);
          try {
            b.release(await b.forward({ tokens, classes: Int32Array.from(t.classes), rows, logits: host }));
            b.release(await b.forward({ tokens, classes: Int32Array.from(t.classes), rows, logits: handle }));
            const step = stepOf(t);
            await b.sampleStep(handle, step);
            results.push({ logits: Array.from(host), positions: Array.from(step.revealedPositions), tokens: Array.from(step.revealedTokens) });
          } catch (err) {
            results.push({ logits: [], positions: [], tokens: [], error: String(err) });
          } finally {
            b.release(handle);
          }
        }
        // Non-finite logits at a masked position: BACKEND_FAILURE naming image and position.
        const t0 = trials[0]!;
        const handle = b.createLogits(t0.classes.length);
        const bad = new Float32Array(t0.classes.length * L * K).fill(0.5);
        // The mask id is the largest id in a state, so its first occurrence is the first masked position.
        const firstMasked = t0.state.findIndex((v) => v === t0.state.reduce((a, x) => Math.max(a, x), 0));
        bad[firstMasked * K + 1] = Number.NaN;
        b.writeLogits(handle, bad);
        let nonFinite = {};
        await b
          .sampleStep(handle, stepOf(t0))
          .catch((e: { code?: string; details?: unknown; message?: string }) => (nonFinite = { code: e.code, details: e.details, message: e.message }));
        b.release(handle);
        let released = {};
        await b.sampleStep(handle, stepOf(t0)).catch((e: { code?: string }) => (released = { code: e.code }));
        const out = { device: b.device, deviceSampling: b.capabilities.deviceSampling === true, results, nonFinite, released, liveLogits: b.liveLogits };
        await b.dispose();
        return out;
      },
      [trials, L, K] as const,
    )) as PageRun;
    await page.close();
    expect(run.device).toBe('webgpu');
    expect(run.deviceSampling).toBe(true);
    expect(run.results.filter((r) => r.error).map((r) => r.error)).toEqual([]);
    let same = 0;
    let total = 0;
    let sameSet = 0;
    for (let i = 0; i < trials.length; i++) {
      const t = trials[i]!;
      const r = run.results[i]!;
      const step: DeviceSampleStep = {
        batch: t.batch,
        guided: t.guided,
        weight: 2,
        invTemp: 1,
        noiseScale: 3,
        state: Int32Array.from(t.state),
        uniforms: Float64Array.from(t.uniforms),
        count: t.count,
        revealedPositions: new Int32Array(t.batch * t.count),
        revealedTokens: new Int32Array(t.batch * t.count),
      };
      sampleStepHost(Float32Array.from(r.logits), L, K, maskId, step, createSamplerScratch(t.batch, L, K), new Int32Array(t.batch * L));
      for (let j = 0; j < t.batch * t.count; j++) {
        total++;
        if (step.revealedPositions[j] === r.positions[j] && step.revealedTokens[j] === r.tokens[j]) same++;
      }
      for (let b = 0; b < t.batch; b++)
        for (let j = 1; j < t.count; j++) expect(r.positions[b * t.count + j]!).toBeGreaterThan(r.positions[b * t.count + j - 1]!);
      if (Array.from(step.revealedPositions).every((p, j) => p === r.positions[j])) sameSet++;
    }
    console.log(
      `device sampler on WebGPU (SwiftShader, float32) vs host reference (float64), tiny bundle: ${same} of ${total} committed tokens identical (${((100 * same) / total).toFixed(2)}%), same positions in ${sameSet} of ${trials.length} steps`,
    );
    expect(same / total).toBeGreaterThanOrEqual(MIN_SHARE);
    const firstMasked = trials[0]!.state.indexOf(maskId);
    expect(run.nonFinite).toMatchObject({ code: 'BACKEND_FAILURE', details: { image: Math.floor(firstMasked / L), position: firstMasked % L } });
    expect(run.released).toMatchObject({ code: 'DISPOSED' });
    expect(run.liveLogits).toBe(0);
  }, 240_000);

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });
});
