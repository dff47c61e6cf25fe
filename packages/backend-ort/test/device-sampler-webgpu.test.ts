// The float32 device sampler graph on onnxruntime-node's own WebGPU provider (Dawn), with a software Vulkan
// driver so that it runs on a CI machine without a GPU: Chromium's SwiftShader ICD (Debian's chromium package,
// which scripts/setup.sh installs for the browser tests). Debian 12's mesa lavapipe does not work here: Dawn
// refuses its adapter ("Vulkan shaderUniform*ArrayDynamicIndexing required"). Skipped when the ICD is missing.
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createSamplerScratch, RandomStreams } from '@migm/core/sampling';
import { drawStepUniforms, sampleStepHost, type DeviceSampleStep } from '@migm/core/backend';
import { type Manifest } from '@migm/core';
import { testManifest } from '@migm/core/testing';
import * as ort from 'onnxruntime-node';
import { DeviceSampler, type SamplerOrt } from '../src/device-sampler.js';

const ICD = process.env['MIGM_VK_ICD'] ?? '/usr/lib/chromium/vk_swiftshader_icd.json';
const L = 32;
const K = 64;
const manifest = { ...testManifest(), tokens: { ...testManifest().tokens, count: L, codebookSize: K, maskId: K } } as Manifest;

describe.skipIf(!existsSync(ICD))('DeviceSampler on onnxruntime-node WebGPU (software Vulkan), float32', () => {
  // Dawn's Vulkan loader reads this when the first WebGPU session starts, which is in this test process.
  process.env['VK_ICD_FILENAMES'] ??= ICD;
  const sampler = new DeviceSampler({
    ort: ort as unknown as SamplerOrt,
    manifest,
    precision: 'float32',
    sessionOptions: { executionProviders: ['webgpu'], logSeverityLevel: 3 },
    where: 'onnxruntime-node on webgpu',
  });
  afterAll(() => sampler.release());

  it('commits the host reference tokens (share stated) and reports non-finite logits like the host', async () => {
    let same = 0;
    let total = 0;
    for (let trial = 0; trial < 24; trial++) {
      const B = 1 + (trial % 3);
      const guided = trial % 2 === 0;
      const rng = new RandomStreams(trial + 1, 1);
      const masked = 1 + Math.floor(rng.uniform(0) * L);
      const state = new Int32Array(B * L);
      for (let b = 0; b < B; b++) {
        const order = Array.from({ length: L }, (_, i) => i).sort(() => rng.uniform(0) - 0.5);
        order.forEach((p, i) => (state[b * L + p] = i < masked ? K : (p + b) % K));
      }
      const logits = Float32Array.from({ length: (guided ? 2 : 1) * B * L * K }, () => 4 * (rng.uniform(0) + rng.uniform(0) - 1));
      const uniforms = new Float64Array(2 * B * L);
      drawStepUniforms(state, K, B, L, new RandomStreams(trial, B), uniforms);
      const count = [1, Math.max(1, masked >> 1), masked][trial % 3]!;
      const make = (): DeviceSampleStep => ({
        batch: B,
        guided,
        weight: 1.5,
        invTemp: 1,
        noiseScale: 2,
        state,
        uniforms,
        count,
        revealedPositions: new Int32Array(B * count),
        revealedTokens: new Int32Array(B * count),
      });
      const want = make();
      const got = make();
      sampleStepHost(logits, L, K, K, want, createSamplerScratch(B, L, K), new Int32Array(B * L));
      await sampler.run(new ort.Tensor('float32', logits, [logits.length / (L * K), L, K]) as never, got, masked);
      for (let i = 0; i < B * count; i++) {
        total++;
        if (got.revealedPositions[i] === want.revealedPositions[i] && got.revealedTokens[i] === want.revealedTokens[i]) same++;
      }
      if (trial === 0) {
        const first = state.indexOf(K);
        logits[first * K + 2] = Number.NaN;
        await expect(sampler.run(new ort.Tensor('float32', logits, [logits.length / (L * K), L, K]) as never, make(), masked)).rejects.toMatchObject({
          code: 'BACKEND_FAILURE',
          details: { image: Math.floor(first / L), position: first % L },
        });
      }
    }
    console.log(
      `device sampler on onnxruntime-node WebGPU (SwiftShader Vulkan, float32): ${same} of ${total} committed tokens equal the float64 host reference`,
    );
    expect(same / total).toBeGreaterThanOrEqual(0.99);
  }, 120_000);
});
