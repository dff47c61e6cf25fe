import { afterAll, describe, expect, it, vi } from 'vitest';
import { generate, type Manifest } from '@migm/core';
import { backendConformance } from '@migm/core/testing';
import { OrtBackend, firstWorkingDevice, type OrtModule } from '../src/index.js';
import { nodeOrt, readTiny, tinyBackend } from './helpers.js';
import { identityModel } from './onnx-craft.js';

describe('OrtBackend conformance (onnxruntime-node, tiny bundle)', () => {
  const { cases, cleanup } = backendConformance({ create: () => tinyBackend(), liveFeatures: (b) => (b as OrtBackend).liveFeatures });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('OrtBackend conformance with the device sampler (float64 graph on the CPU provider)', () => {
  const { cases, cleanup } = backendConformance({ create: () => tinyBackend({ deviceSampling: true }), liveFeatures: (b) => (b as OrtBackend).liveFeatures });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('OrtBackend conformance without the shortcut', () => {
  const { cases, cleanup } = backendConformance({ create: () => tinyBackend({ shortcut: false }) });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('OrtBackend', () => {
  it('writes logits into the caller buffer and recycles feature buffers', async () => {
    const b = await tinyBackend();
    const { count: L, codebookSize: K, maskId } = b.manifest.tokens;
    const logits = new Float32Array(2 * L * K);
    const f1 = await b.forward({ tokens: new Int32Array(2 * L).fill(maskId), classes: Int32Array.of(0, 10), rows: 2, logits });
    expect(logits.some((v) => v !== 0)).toBe(true);
    const data = await b.readFeature(f1);
    b.release(f1);
    const f2 = await b.forward({ tokens: new Int32Array(2 * L).fill(maskId), classes: Int32Array.of(0, 10), rows: 2, logits });
    expect(Array.from(await b.readFeature(f2))).toEqual(Array.from(data));
    b.release(f2);
    expect(b.liveFeatures).toBe(0);
    await b.dispose();
  });

  it('classifies decoded images when the classifier is loaded', async () => {
    const b = await tinyBackend({ classifier: true });
    const r = await generate(b, { condition: [1, 7], seed: 3, predictor: 'none' });
    const c = await b.classify(await b.decode(r.tokens, r.batch));
    expect(c.logits.length).toBe(2 * 10);
    expect(c.features.length).toBe(2 * c.featureDim);
    await b.dispose();
    const without = await tinyBackend();
    await expect(without.classify({ data: new Float32Array(784), batch: 1, channels: 1, height: 28, width: 28 })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
    });
    await without.dispose();
  });

  it('refuses a graph whose inputs, outputs or dtypes differ from the manifest, naming file and tensor', async () => {
    const rename = (m: Manifest) => {
      m.graphs.head.inputs['feature']!.name = 'hidden';
    };
    await expect(OrtBackend.create({ ort: nodeOrt, bundle: readTiny(rename), name: 'x', device: 'cpu' })).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
      message: expect.stringMatching(/head\.onnx.*input 'hidden' \(feature\) is missing/),
    });
    const dtype = (m: Manifest) => {
      m.graphs.decoder.inputs['tokens']!.dtype = 'int64';
    };
    await expect(OrtBackend.create({ ort: nodeOrt, bundle: readTiny(dtype), name: 'x', device: 'cpu' })).rejects.toThrow(
      /decoder\.onnx.*dtype int32, the manifest says int64/,
    );
  });

  it('reports a runtime that cannot load a graph as BACKEND_FAILURE, and bytes that are no model as BUNDLE_MISMATCH', async () => {
    const bundle = readTiny();
    const files = new Map(bundle.files);
    files.set('head.onnx', identityModel({ inline: new Uint8Array([1]), op: 'NoSuchOperator' }));
    await expect(OrtBackend.create({ ort: nodeOrt, bundle: { ...bundle, files }, name: 'x', device: 'cpu' })).rejects.toMatchObject({
      code: 'BACKEND_FAILURE',
      message: expect.stringContaining('head.onnx'),
    });
    files.set('head.onnx', new Uint8Array([1, 2, 3]));
    await expect(OrtBackend.create({ ort: nodeOrt, bundle: { ...bundle, files }, name: 'x', device: 'cpu' })).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
      message: expect.stringContaining('head.onnx'),
    });
  });
});

describe('OrtBackend guidedHead', () => {
  it('is offered for a head the manifest declares affine, and matches guiding two head() calls', async () => {
    const b = await tinyBackend();
    expect(b.capabilities.guidedHead).toBe(true);
    const { count: L, codebookSize: K, maskId } = b.manifest.tokens;
    const logits = new Float32Array(4 * L * K);
    const f = await b.forward({ tokens: new Int32Array(4 * L).fill(maskId), classes: Int32Array.of(0, 3, 10, 10), rows: 4, logits });
    const guided = new Float32Array(2 * L * K);
    await b.guidedHead(f, 3, guided);
    let worst = 0;
    for (let i = 0; i < guided.length; i++) worst = Math.max(worst, Math.abs(guided[i]! - (4 * logits[i]! - 3 * logits[guided.length + i]!)));
    expect(worst).toBeLessThan(1e-4);
    b.release(f);
    await b.dispose();
    const plain = await OrtBackend.create({ ort: nodeOrt, bundle: readTiny((m) => delete m.graphs.head.affine), name: 'x', device: 'cpu' });
    expect(plain.capabilities.guidedHead).toBe(false);
    expect(plain.guidedHead).toBeUndefined();
    await plain.dispose();
  });

  it('turns guidedHead off, with a warning naming the file, when a head declared affine is not', async () => {
    // The same ONNX head with a non-linearity applied to its output, as a head with a GELU or LayerNorm would have.
    const bent: OrtModule = {
      ...nodeOrt,
      InferenceSession: {
        create: async (...args: Parameters<OrtModule['InferenceSession']['create']>) => {
          const s = await nodeOrt.InferenceSession.create(...args);
          if (s.inputNames.length !== 1 || s.inputNames[0] !== 'feature') return s;
          const run = s.run.bind(s);
          return Object.assign(Object.create(Object.getPrototypeOf(s)), s, {
            run: async (...a: Parameters<typeof s.run>) => {
              const out = await run(...a);
              const data = out['logits']!.data as Float32Array;
              for (let i = 0; i < data.length; i++) data[i] = Math.tanh(data[i]!);
              return out;
            },
          });
        },
      } as OrtModule['InferenceSession'],
    };
    const warnings: string[] = [];
    const b = await OrtBackend.create({ ort: bent, bundle: readTiny(), name: 'x', device: 'cpu', onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/head\.onnx.*graphs\.head\.affine.*both guidance branches/);
    expect(b.warnings).toEqual(warnings);
    expect(b.capabilities.guidedHead).toBe(false);
    expect(b.guidedHead).toBeUndefined();
    // Sampling still works, through head() on both branches.
    const r = await generate(b, { condition: [1, 2], seed: 1, predictor: 'learned' });
    expect(r.calls.head).toBeGreaterThan(0);
    await b.dispose();
    // Without onWarning the backend prints nothing (the cached verdict's warning is kept in `warnings` all the same).
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const quiet = await OrtBackend.create({ ort: bent, bundle: readTiny(), name: 'x', device: 'cpu' });
      expect(quiet.warnings).toEqual(warnings);
      expect(warn).not.toHaveBeenCalled();
      await quiet.dispose();
    } finally {
      warn.mockRestore();
    }
    // A head that passes leaves `warnings` empty (another name: verdicts are cached by name, device and head bytes).
    const plain = await OrtBackend.create({ ort: nodeOrt, bundle: readTiny(), name: 'plain', device: 'cpu' });
    expect(plain.warnings).toEqual([]);
    await plain.dispose();
  });
});

describe('firstWorkingDevice', () => {
  it('falls back along the chain, reporting each fallback, and stops on non-device errors', async () => {
    const seen: string[] = [];
    const got = await firstWorkingDevice(
      ['cuda', 'cpu'],
      async (d) => {
        if (d === 'cuda') await OrtBackend.create({ ort: nodeOrt, bundle: readTiny(), name: 'x', device: d, sessionOptions: { executionProviders: ['cuda'] } });
        return d;
      },
      (f) => seen.push(`${f.device}: ${f.error.code}`),
    );
    expect(got).toBe('cpu');
    expect(seen).toEqual(['cuda: BACKEND_FAILURE']);
    await expect(
      firstWorkingDevice(['a', 'b'], async () => {
        throw new TypeError('bug');
      }),
    ).rejects.toThrow('bug');
  });
});
