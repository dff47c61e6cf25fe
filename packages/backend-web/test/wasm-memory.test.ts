/// <reference types="node" />
// A bundle whose weights cannot fit in onnxruntime-web's wasm memory (4 GiB) is refused from its manifest with a
// typed error that names the estimate and what would fit, before anything but the manifest is downloaded.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateManifest, type Manifest } from '@migm/core';
import { createWebBackend, estimateWasmMemory, WASM_WEIGHT_BUDGET } from '../src/index.js';

const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));
const tinyManifest = () => JSON.parse(readFileSync(`${TINY}manifest.json`, 'utf8')) as Manifest;
const GB = 1e9;

/** The tiny bundle's manifest, with its base claiming `parameters` (and optionally an int8 variant of `int8Bytes`). */
function bigManifest(parameters: number, int8Bytes?: number): Manifest {
  const m = tinyManifest();
  m.graphs.base.parameters = parameters;
  if (int8Bytes !== undefined) {
    m.files.push({ path: 'base.int8.onnx', bytes: int8Bytes, sha256: createHash('sha256').update('never fetched').digest('hex') });
    m.graphs.base.variants = { int8: { file: 'base.int8.onnx' } };
  }
  return validateManifest(m);
}

/** A fetch that serves only the manifest (every other file 404) and records what was asked for. */
function manifestOnly(m: Manifest): { fetch: typeof fetch; requests: string[] } {
  const requests: string[] = [];
  const impl = (async (url: string) => {
    requests.push(url.replace('https://cdn.test/m/', ''));
    return url.endsWith('manifest.json') ? new Response(JSON.stringify(m)) : new Response('not found', { status: 404, statusText: 'Not Found' });
  }) as unknown as typeof fetch;
  return { fetch: impl, requests };
}

describe('wasm memory check', () => {
  it('estimates float32 weights per graph; a float16-stored graph holds both copies while its session is made', () => {
    const m = tinyManifest();
    const size = (f: string) => m.files.find((x) => x.path === f)!.bytes;
    // Head and decoder without a parameter count: their file size. The base claims 1e9 parameters in a small file.
    const { parameters: _h, ...head } = m.graphs.head;
    const { parameters: _d, ...decoder } = m.graphs.decoder;
    const base = { ...m, graphs: { ...m.graphs, head, decoder, base: { ...m.graphs.base, parameters: 1e9 } } } as Manifest;
    const e = estimateWasmMemory(base, ['base', 'head', 'decoder']);
    expect(e.graphs).toEqual([
      { role: 'base', stored: size(m.graphs.base.file), resident: 4e9 },
      { role: 'head', stored: size(m.graphs.head.file), resident: size(m.graphs.head.file) },
      { role: 'decoder', stored: size(m.graphs.decoder.file), resident: size(m.graphs.decoder.file) },
    ]);
    // The most held at once: the base's stored weights and two float32 copies while it loads, or everything once loaded.
    expect(e.peak).toBe(Math.max(8e9 + size(m.graphs.base.file), 4e9 + size(m.graphs.head.file) + size(m.graphs.decoder.file)));
    // An int8 graph keeps its quantized weights: its file size, whatever its parameter count.
    const int8 = { ...base, graphs: { ...base.graphs, base: { ...base.graphs.base, precision: 'int8' } } } as Manifest;
    expect(estimateWasmMemory(int8, ['base']).graphs[0]!.resident).toBe(size(m.graphs.base.file));
    // Measured in Chromium: aMUSEd-256 in float32 (3.29 GB of weights) loaded and made an image; its float16 file
    // (base 1.21 GB stored, 603.5 M parameters) failed to allocate as the first session. The estimate agrees with both.
    const amused = () => ({ ...m, graphs: { ...m.graphs, head, decoder, base: { ...m.graphs.base, parameters: 603_537_664 } } }) as Manifest;
    const sized = (manifest: Manifest, bytes: number) =>
      ({ ...manifest, files: manifest.files.map((f) => (f.path === m.graphs.base.file ? { ...f, bytes } : f)) }) as Manifest;
    expect(estimateWasmMemory(sized(amused(), 2.415e9), ['base']).peak).toBeLessThan(WASM_WEIGHT_BUDGET);
    expect(estimateWasmMemory(sized(amused(), 1.208e9), ['base']).peak).toBeGreaterThan(WASM_WEIGHT_BUDGET);
    expect(3.29 * GB).toBeLessThan(WASM_WEIGHT_BUDGET);
  });

  it("on wasm, a bundle over the budget is refused from its manifest (UNSUPPORTED, suggesting its int8 variant); with dtype 'int8' the download starts", async () => {
    const m = bigManifest(1.2e9, 1.3e9); // 4.8 GB as float32
    const { fetch, requests } = manifestOnly(m);
    const err = await createWebBackend({ bundle: 'https://cdn.test/m/', device: 'wasm', fetch: { fetch, cache: false } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNSUPPORTED', details: { device: 'wasm', budgetBytes: WASM_WEIGHT_BUDGET } });
    expect((err as Error).message).toMatch(
      /need about \d+\.\d\d GB of onnxruntime-web's wasm memory while its sessions are created \(weights as float32 on the CPU, float16-stored ones cast up: base 4\.80 GB, .*\), more than wasm can hold .* Load it with dtype: 'int8' \(this bundle has int8 variants\), or on WebGPU\./,
    );
    expect(requests).toEqual(['manifest.json']); // nothing else was downloaded
    // The int8 variant (1.3 GB stored) fits: the check passes and the download begins (here: 404, the file is not served).
    const int8 = manifestOnly(m);
    await expect(
      createWebBackend({ bundle: 'https://cdn.test/m/', device: 'wasm', dtype: 'int8', fetch: { fetch: int8.fetch, cache: false } }),
    ).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
    });
    expect(int8.requests.length).toBeGreaterThan(1); // past the manifest: the check let it through
    expect(int8.requests).not.toContain(m.graphs.base.file);
  });

  it('without variants the error says how to make them; auto falling back to wasm meets the same check', async () => {
    const m = bigManifest(1.1e9);
    const files = new Map<string, Uint8Array>();
    for (const f of tinyManifest().files) files.set(f.path, new Uint8Array(readFileSync(`${TINY}${f.path}`)));
    // In Node there is no WebGPU: auto falls back to wasm, whose check refuses before any session is made.
    const err = await createWebBackend({ bundle: { manifest: m, files }, device: 'auto' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNSUPPORTED' });
    expect((err as Error).message).toMatch(
      /base 4\.40 GB.*Quantize it \(python -m migm_train quantize --precision int8 or int4\) and load it with dtype: 'int8' or 'int4'/,
    );
    // The tiny bundle itself is far below the budget and loads.
    const ok = await createWebBackend({ bundle: { manifest: validateManifest(tinyManifest()), files }, device: 'wasm', numThreads: 1 });
    expect(ok.device).toBe('wasm');
    await ok.dispose();
  });
});
