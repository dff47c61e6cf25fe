/// <reference types="node" />
// WebGpuBackend on a text-conditioned bundle (a small aMUSEd bundle with random weights), in Node through an
// emulated WebGPU device (test/emulated-webgpu.ts): headless Chromium's software adapter takes 90-120 s to load
// this bundle (apps/demo's MIGM_E2E_WEBGPU_TEXT case), and counting what each step uploads needs the device's
// calls anyway. What it shows: the encoded prompts stay on the GPU from the text encoder on, every forward binds
// them from GPU buffers (no host-to-device copy per step), the tokens are onnxruntime-node's, and release frees them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ortNode from 'onnxruntime-node';
import { generate, validateManifest, type Backend, type GenerateOptions, type Manifest } from '@migm/core';
import { OrtBackend, type OrtModule, type VerifiedBundle } from '@migm/backend-ort';
import { WebGpuBackend } from '../src/index.js';
import { amusedTestBundle } from '../../backend-node/test/amused-bundle.js';
import { EmulatedGpu, emulatedOrt } from './emulated-webgpu.js';

let bundle: VerifiedBundle;
beforeAll(() => {
  const dir = amusedTestBundle();
  const manifest = validateManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest);
  bundle = { manifest, files: new Map(manifest.files.map((f) => [f.path, new Uint8Array(readFileSync(join(dir, f.path)))])) };
}, 600_000);

/** The first forward's logits and the tokens of `options` (host sampler), on `backend`. */
async function run(backend: Backend, options: GenerateOptions): Promise<{ first: Float32Array; tokens: Int32Array; forwards: number }> {
  let first: Float32Array | undefined;
  const forward = backend.forward.bind(backend);
  backend.forward = async (input) => {
    const f = await forward(input);
    first ??= (input.logits as Float32Array).slice();
    return f;
  };
  const r = await generate(backend, options);
  return { first: first!, tokens: r.tokens, forwards: r.calls.forward };
}

describe('WebGpuBackend on a text bundle (emulated WebGPU device, onnxruntime-node sessions)', () => {
  let gpu: EmulatedGpu;
  let feeds: ReturnType<typeof emulatedOrt>['feeds'];
  let backend: WebGpuBackend;
  beforeAll(async () => {
    gpu = new EmulatedGpu();
    const emulated = emulatedOrt(gpu);
    feeds = emulated.feeds;
    backend = await WebGpuBackend.create({ ort: emulated.ort as never, bundle, sessionOptions: {}, deviceSampling: false, onWarning: () => {} });
  }, 120_000);
  afterAll(() => backend?.dispose());

  const options: GenerateOptions = { prompt: ['a photo of a red fox in the snow', 'an astronaut riding a horse'], seed: 21, steps: 4, sampler: 'host' };
  const names = () => {
    const g = bundle.manifest.graphs.base.inputs;
    return [g['textStates']!.name, g['pooled']!.name];
  };

  it('binds the encoded prompts from GPU buffers on every forward: nothing crosses from the host per step', async () => {
    expect(backend.capabilities).toMatchObject({ text: true, deviceFeatures: true });
    gpu.uploads = [];
    const r = await run(backend, options);
    expect(r.forwards).toBeGreaterThanOrEqual(4);
    for (const name of names()) {
      expect([name, feeds.fromHost.get(name) ?? 0]).toEqual([name, 0]);
      expect([name, feeds.onDevice.get(name)]).toEqual([name, r.forwards]);
    }
    // Gathered on the GPU from the text encoder's GPU outputs: no upload of them at all, not even once per run.
    expect(gpu.uploads).toEqual([]);
  }, 120_000);

  it("gives onnxruntime-node's first-step logits and tokens for the same prompts and seed", async () => {
    const web = await run(backend, options);
    const node = await OrtBackend.create({ ort: ortNode as unknown as OrtModule, bundle, name: 'onnxruntime-node', device: 'cpu', onWarning: () => {} });
    try {
      const host = await run(node, options);
      expect(web.first).toEqual(host.first);
      expect(Array.from(web.tokens)).toEqual(Array.from(host.tokens));
    } finally {
      await node.dispose();
    }
  }, 120_000);

  it('keeps the prompts on the GPU with the device sampler too (logits handles, the default on WebGPU)', async () => {
    const gpu2 = new EmulatedGpu();
    const emulated = emulatedOrt(gpu2);
    const b = await WebGpuBackend.create({ ort: emulated.ort as never, bundle, sessionOptions: {}, onWarning: () => {} });
    try {
      expect(b.capabilities.deviceSampling).toBe(true);
      const r = await generate(b, { ...options, sampler: 'device' });
      expect(r.sampler.device).toBe(true);
      for (const name of names()) {
        expect([name, emulated.feeds.fromHost.get(name) ?? 0]).toEqual([name, 0]);
        expect([name, emulated.feeds.onDevice.get(name)]).toEqual([name, r.calls.forward]);
      }
    } finally {
      await b.dispose();
    }
    expect(gpu2.live.size).toBe(0);
  }, 120_000);

  it('frees the text buffers when generate() releases the handle, and every buffer at dispose', async () => {
    await generate(backend, { ...options, prompt: 'a bowl of ramen' });
    expect(backend.liveTexts).toBe(0);
    const used = names().flatMap((n) => [...(feeds.buffers.get(n) ?? [])]);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((b) => !b.destroyed)).toEqual([]);
    await backend.dispose();
    expect(gpu.live.size).toBe(0);
  }, 120_000);
});
