/// <reference types="node" />
// Node-side checks of createWebBackend with onnxruntime-web's Node build (wasm). The same backend runs in a
// real Chromium (wasm and WebGPU) in apps/demo/test/web-e2e.test.ts.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, validateManifest, type Backend, type Manifest } from '@migm/core';
import { backendConformance } from '@migm/core/testing';
import { OrtBackend, type OrtModule, type VerifiedBundle } from '@migm/backend-ort';
import * as ortNode from 'onnxruntime-node';
import { createWebBackend, type DeviceFallback, type LoadProgressEvent, type WebBackend } from '../src/index.js';

const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));

function readTiny(): VerifiedBundle {
  const manifest = JSON.parse(readFileSync(`${TINY}manifest.json`, 'utf8')) as Manifest;
  const files = new Map<string, Uint8Array>();
  for (const f of manifest.files) {
    const bytes = new Uint8Array(readFileSync(`${TINY}${f.path}`));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
    files.set(f.path, bytes);
  }
  return { manifest: validateManifest(manifest), files };
}

const tiny = readTiny();
const wasm = () => createWebBackend({ bundle: tiny, device: 'wasm', numThreads: 1 });

describe('createWebBackend conformance (onnxruntime-web wasm in Node, tiny bundle)', () => {
  const { cases, cleanup } = backendConformance({ create: wasm, liveFeatures: (b) => (b as WebBackend).liveFeatures });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('createWebBackend conformance with the device sampler (float64 graph on wasm)', () => {
  const { cases, cleanup } = backendConformance({
    create: async () => {
      const b = await createWebBackend({ bundle: tiny, device: 'wasm', numThreads: 1, deviceSampling: true });
      expect(b.capabilities.deviceSampling).toBe(true);
      return b;
    },
    liveFeatures: (b) => (b as WebBackend).liveFeatures,
  });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('createWebBackend', () => {
  it('offers the device sampler on wasm only when asked for, and checks the option', async () => {
    const b = await wasm();
    expect(b.capabilities.deviceSampling).toBe(false);
    expect(b.sampleStep).toBeUndefined();
    await b.dispose();
    await expect(createWebBackend({ bundle: tiny, device: 'wasm', deviceSampling: 'yes' as never })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('deviceSampling'),
    });
  });

  it("generate() on wasm with sampler 'device' gives the host sampler's tokens", async () => {
    const b = await createWebBackend({ bundle: tiny, device: 'wasm', numThreads: 1, deviceSampling: true });
    for (const predictor of ['vanilla', 'shortcut'] as const) {
      const opts = { condition: [2, 5, null], seed: 4, predictor, ...(predictor === 'shortcut' ? { budget: 3 } : {}) } as const;
      const device = await generate(b, { ...opts, sampler: 'device' });
      const host = await generate(b, { ...opts, sampler: 'host' });
      expect(device.sampler.device).toBe(true);
      expect(Array.from(device.tokens)).toEqual(Array.from(host.tokens));
    }
    await b.dispose();
  });

  it('auto falls back to wasm where WebGPU is missing, and reports why', async () => {
    const seen: DeviceFallback[] = [];
    const b = await createWebBackend({ bundle: tiny, device: 'auto', onFallback: (f) => seen.push(f) });
    expect(b.device).toBe('wasm');
    expect(b.name).toBe('onnxruntime-web');
    expect(b.selection).toMatchObject({ requested: 'auto', device: 'wasm', numThreads: 1 });
    expect(seen.map((f) => [f.device, f.error.code])).toEqual([['webgpu', 'UNSUPPORTED']]);
    expect(b.selection.fallbacks).toEqual(seen);
    await b.dispose();
  });

  it('refuses webgpu with a clear error when there is none, and an unknown device', async () => {
    await expect(createWebBackend({ bundle: tiny, device: 'webgpu' })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringMatching(/WebGPU was asked for.*'wasm'/),
    });
    await expect(createWebBackend({ bundle: tiny, device: 'gpu' as never })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('loads a bundle from a URL through fetchBundle', async () => {
    const fetchImpl = (async (url: string) => new Response(readFileSync(`${TINY}${url.replace('https://models.test/tiny/', '')}`))) as unknown as typeof fetch;
    const events: LoadProgressEvent[] = [];
    const b = await createWebBackend({
      bundle: 'https://models.test/tiny/',
      device: 'wasm',
      fetch: { fetch: fetchImpl, cache: false },
      onProgress: (e) => events.push(e),
    });
    expect(b.manifest.name).toBe(tiny.manifest.name);
    await b.dispose();
    // One progress stream for the whole load: every file verified, then each session created.
    const kinds = events.map((e) => e.type);
    expect(kinds.lastIndexOf('file-done')).toBeLessThan(kinds.indexOf('session-start'));
    expect(events.filter((e) => e.type === 'file-done')).toHaveLength(tiny.manifest.files.length);
    expect(events.filter((e) => e.type === 'session-done').map((e) => e.type === 'session-done' && e.role)).toEqual(['base', 'head', 'decoder', 'shortcut']);
  });

  it('gives the same first-step logits and tokens as onnxruntime-node for the same seed', async () => {
    const record = (b: Backend) => {
      const first: Float32Array[] = [];
      const forward = b.forward.bind(b);
      b.forward = async (input) => {
        const f = await forward(input);
        if (first.length === 0) first.push((input.logits as Float32Array).slice());
        return f;
      };
      return first;
    };
    const web = await wasm();
    const node = await OrtBackend.create({ ort: ortNode as unknown as OrtModule, bundle: tiny, name: 'onnxruntime-node', device: 'cpu' });
    const opts = { condition: [3, 7], seed: 11, steps: 4, predictor: 'learned' as const, budget: 2 };
    const [lw, ln] = [record(web), record(node)];
    const rw = await generate(web, opts);
    const rn = await generate(node, opts);
    let worst = 0;
    for (let i = 0; i < ln[0]!.length; i++) worst = Math.max(worst, Math.abs(lw[0]![i]! - ln[0]![i]!));
    expect(worst).toBeLessThan(1e-4);
    expect(Array.from(rw.tokens)).toEqual(Array.from(rn.tokens));
    await web.dispose();
    await node.dispose();
  });
});

describe('createWebBackend on a hostile bundle', () => {
  it('refuses a graph with external data and a manifest that breaks the documented equalities', async () => {
    // A uint8 initializer whose data is declared to live in the file 'secret.txt' (protobuf written by hand).
    const enc = (s: string) => new TextEncoder().encode(s);
    const field = (n: number, body: Uint8Array) => Uint8Array.from([n * 8 + 2, body.length, ...body]);
    const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
    const tensor = cat(field(8, enc('W')), Uint8Array.from([2 * 8, 2, 14 * 8, 1]), field(13, cat(field(1, enc('location')), field(2, enc('secret.txt')))));
    const hostile = cat(Uint8Array.from([8, 8]), field(7, cat(field(5, tensor))));
    const manifest = structuredClone(tiny.manifest);
    const entry = manifest.files.find((f) => f.path === manifest.graphs.decoder.file)!;
    entry.bytes = hostile.length;
    entry.sha256 = createHash('sha256').update(hostile).digest('hex');
    const bundle = { manifest, files: new Map(tiny.files).set(entry.path, hostile) };
    await expect(createWebBackend({ bundle, device: 'wasm', numThreads: 1 })).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
      message: expect.stringContaining("keep their data in external files ('W')"),
    });
    const bad = structuredClone(tiny.manifest) as Manifest;
    bad.tokens.maskId += 1;
    expect(() => validateManifest(bad)).toThrow(/maskId .* must equal tokens.codebookSize/);
  });
});

describe('createWebBackend options', () => {
  it('refuses null options, a missing bundle and unknown keys (naming the closest) before fetching anything', async () => {
    await expect(createWebBackend(null as never)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(createWebBackend({} as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining("'bundle'") });
    await expect(createWebBackend({ bundle: 'https://never.fetched/', devise: 'wasm' } as never)).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining("did you mean 'device'?"),
    });
  });
});
