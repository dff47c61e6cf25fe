import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, isMigmError, PREDICTOR_REGISTRY, type TextCondition } from '@migm/core';
import { backendConformance } from '@migm/core/testing';
import type { OrtBackend } from '@migm/backend-ort';
import { createNodeBackend, readBundleDir } from '../src/index.js';
import { amusedTestBundle, TRAINING_PYTHON } from './amused-bundle.js';

// A small aMUSEd bundle with random weights (import-amused --random-init --config small): a real text-conditioned
// bundle in every part (CLIP tokenizer.json, text encoder, U-ViT base, head, VQ decoder), only small.
let BUNDLE = '';
beforeAll(() => {
  BUNDLE = amusedTestBundle();
}, 600_000);

describe('onnxruntime-node on an aMUSEd bundle: backend conformance in text mode', () => {
  const { cases, cleanup } = backendConformance({
    create: () => createNodeBackend({ bundle: BUNDLE }),
    liveFeatures: (b) => (b as OrtBackend).liveFeatures,
  });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('generate() with a prompt on the aMUSEd bundle', () => {
  let backend: OrtBackend;
  beforeAll(async () => {
    backend = await createNodeBackend({ bundle: BUNDLE });
  });
  afterAll(() => backend?.dispose());

  it('loads the text encoder and the tokenizer, with the manifest defaults aMUSEd samples with', () => {
    const m = backend.manifest;
    expect(m.family).toBe('amused');
    expect(backend.capabilities.text).toBe(true);
    expect(backend.tokenizer?.maxLength).toBe(77);
    expect(m.sampling).toMatchObject({ steps: 12, schedule: 'cosine-floor', guidance: { scale: 9, schedule: 'constant' }, randomizeTemperature: 2 });
    expect(backend.tokenizer?.encode('a photo of a cat').ids.slice(0, 8)).toEqual(Int32Array.from([49406, 320, 1125, 539, 320, 2368, 49407, 49407]));
  });

  it('runs every predictor the bundle allows with prompts: tokens in the codebook, deterministic, decodable, nothing leaked', async () => {
    const K = backend.manifest.tokens.codebookSize;
    const prompts = ['a photo of a red fox in the snow', 'a bowl of ramen, studio lighting'];
    const ran: string[] = [];
    for (const { name: predictor, accelerated, needsVelocity } of PREDICTOR_REGISTRY) {
      if (needsVelocity && !backend.capabilities.velocity) continue;
      const opts = { prompt: prompts, seed: 7, predictor, ...(accelerated ? { budget: 4 } : {}) };
      const a = await generate(backend, opts);
      const b = await generate(backend, opts);
      expect(
        a.tokens.every((t) => t >= 0 && t < K),
        predictor,
      ).toBe(true);
      expect(Array.from(a.tokens), predictor).toEqual(Array.from(b.tokens));
      expect(a.steps).toBe(12);
      expect(a.calls.encode).toBe(1);
      expect(a.text?.prompts.map((p) => p.prompt)).toEqual([...prompts, '']);
      ran.push(predictor);
    }
    expect(ran).toEqual(expect.arrayContaining(['vanilla', 'reuse', 'taylor', 'adams']));
    const r = await generate(backend, { prompt: prompts[0]!, seed: 1 });
    const img = await backend.decode(r.tokens, 1);
    const { width, height, channels } = backend.manifest.image;
    expect([img.batch, img.channels, img.height, img.width]).toEqual([1, channels, height, width]);
    expect(img.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(backend.liveFeatures).toBe(0);
    expect(backend.liveTexts).toBe(0);
  });

  it('gives other images for other prompts and for another negative prompt, with the same seed', async () => {
    // (An image alone and in a batch may differ here: batched float32 matmuls round differently, and the random
    // weights' nearly flat logits turn that into another draw. The test backend checks the exact property.)
    const a = await generate(backend, { prompt: 'a tree on a hill', seed: 5 });
    const b = await generate(backend, { prompt: 'an astronaut riding a horse', seed: 5 });
    const c = await generate(backend, { prompt: 'a tree on a hill', negativePrompt: 'blurry, low quality', seed: 5 });
    expect(Array.from(a.tokens)).not.toEqual(Array.from(b.tokens));
    expect(Array.from(a.tokens)).not.toEqual(Array.from(c.tokens));
  });

  it('truncates a prompt over 77 tokens as CLIP does and says so', async () => {
    const r = await generate(backend, { prompt: 'a very long prompt '.repeat(30), seed: 1, steps: 2 });
    expect(r.text?.truncated).toBe(true);
    expect(r.text?.prompts[0]).toMatchObject({ truncated: true, length: 122 });
  });

  it('refuses a class for the text bundle and a prompt that is not a string, before running anything', async () => {
    for (const [options, option] of [
      [{ condition: 1 }, "'condition'"],
      [{ prompt: 12 }, "'prompt'"],
      [{ prompt: ['ok', { text: 'no' }] }, "'prompt[1]'"],
    ] as const) {
      const err = await generate(backend, options as never).catch((e: unknown) => e);
      expect(isMigmError(err, 'INVALID_OPTION') && err.message.includes(option)).toBe(true);
    }
  });
});

describe('the fp16 bundle (weights stored as float16, compute in float32)', () => {
  it('loads and makes images from a prompt close to the fp32 bundle', async () => {
    const fp16 = await createNodeBackend({ bundle: amusedTestBundle('fp16') });
    const fp32 = await createNodeBackend({ bundle: BUNDLE });
    try {
      const sizes = (b: OrtBackend) => b.manifest.files.filter((f) => f.path.endsWith('.onnx')).reduce((a, f) => a + f.bytes, 0);
      expect(sizes(fp16)).toBeLessThan(0.6 * sizes(fp32));
      const r = await generate(fp16, { prompt: 'a photo of a red fox in the snow', seed: 3, predictor: 'taylor', budget: 4 });
      expect(r.tokens.every((t) => t >= 0 && t < fp16.manifest.tokens.codebookSize)).toBe(true);
      // First-step logits of both on the same input: float16 weights change them by rounding only.
      const ids = fp32.tokenizer!.encode('a photo of a red fox in the snow').ids;
      const { count: L, codebookSize: K, maskId } = fp32.manifest.tokens;
      const micro = Float32Array.from((fp32.manifest.condition as TextCondition).microConditioning!.default);
      const logitsOf = async (b: OrtBackend) => {
        const handle = await b.encodeText!(ids, 1);
        const logits = new Float32Array(L * K);
        b.release(await b.forward({ tokens: new Int32Array(L).fill(maskId), text: { handle, index: new Int32Array(1), microConds: micro }, rows: 1, logits }));
        b.release(handle);
        return logits;
      };
      const a = await logitsOf(fp32);
      const b = await logitsOf(fp16);
      const scale = Math.max(...Array.from(a, Math.abs));
      expect(maxAbs(a, b) / scale).toBeLessThan(0.02);
    } finally {
      await fp16.dispose();
      await fp32.dispose();
    }
  }, 600_000);
});

describe('every graph on onnxruntime-node equals onnxruntime in Python on the same inputs', () => {
  let work = '';
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'migm-amused-parity-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('textEncoder (ids from the JS tokenizer, which Python tokenizes the same), base, head and decoder', async () => {
    const backend = await createNodeBackend({ bundle: BUNDLE });
    const { manifest } = await readBundleDir(BUNDLE);
    try {
      const c = manifest.condition as TextCondition;
      const T = c.maxLength;
      const prompts = ['a photo of a cat', 'A WATERCOLOR painting, of a lighthouse at dawn!', '', 'ramen 🍜 日本 naïve'];
      const ids = new Int32Array(prompts.length * T);
      prompts.forEach((p, i) => ids.set(backend.tokenizer!.encode(p).ids, i * T));
      const { count: L, codebookSize: K, maskId } = manifest.tokens;
      const rows = prompts.length;
      const tokens = Int32Array.from({ length: rows * L }, (_, i) => ((i * 7919) % 3 === 0 ? maskId : (i * 31) % K));
      const micro = Float32Array.from({ length: rows * 5 }, (_, i) => c.microConditioning!.default[i % 5]! + (i % 5 === 4 ? i / 10 : 0));
      const codes = Int32Array.from({ length: rows * L }, (_, i) => (i * 13) % K);

      // Node: each graph on its own session (the same sessions' files the backend loads).
      const session = (role: keyof typeof manifest.graphs) => ort.InferenceSession.create(join(BUNDLE, manifest.graphs[role]!.file));
      const g = manifest.graphs;
      const enc = await (await session('textEncoder')).run({ [g.textEncoder!.inputs['inputIds']!.name]: new ort.Tensor('int32', ids, [rows, T]) });
      const states = enc[g.textEncoder!.outputs['textStates']!.name]!;
      const pooled = enc[g.textEncoder!.outputs['pooled']!.name]!;
      const base = await (
        await session('base')
      ).run({
        [g.base.inputs['tokens']!.name]: new ort.Tensor('int32', tokens, [rows, L]),
        [g.base.inputs['textStates']!.name]: states,
        [g.base.inputs['pooled']!.name]: pooled,
        [g.base.inputs['microConds']!.name]: new ort.Tensor('float32', micro, [rows, 5]),
      });
      const feature = base[g.base.outputs['feature']!.name]!;
      const head = await (await session('head')).run({ [g.head.inputs['feature']!.name]: feature });
      const dec = await (await session('decoder')).run({ [g.decoder.inputs['tokens']!.name]: new ort.Tensor('int32', codes, [rows, L]) });
      const node: Record<string, Float32Array> = {
        textStates: states.data as Float32Array,
        pooled: pooled.data as Float32Array,
        logits: base[g.base.outputs['logits']!.name]!.data as Float32Array,
        feature: feature.data as Float32Array,
        headLogits: head[g.head.outputs['logits']!.name]!.data as Float32Array,
        pixels: dec[g.decoder.outputs['pixels']!.name]!.data as Float32Array,
      };

      // The same through the backend: forward's logits and feature for rows conditioned on prompts 0..3.
      const handle = await backend.encodeText!(ids, rows);
      const logits = new Float32Array(rows * L * K);
      const f = await backend.forward({ tokens, text: { handle, index: Int32Array.from([0, 1, 2, 3]), microConds: micro }, rows, logits });
      expect(maxAbs(logits, node['logits']!)).toBeLessThanOrEqual(1e-5);
      expect(maxAbs(await backend.readFeature(f), node['feature']!)).toBeLessThanOrEqual(1e-5);
      backend.release(f);
      backend.release(handle);

      // Python: transformers' tokenizer on the bundle's tokenizer.json, and onnxruntime on the same inputs.
      writeFileSync(join(work, 'prompts.json'), JSON.stringify(prompts));
      for (const [name, a] of Object.entries({ tokens, micro, codes })) writeFileSync(join(work, `${name}.bin`), new Uint8Array(a.buffer));
      execFileSync(TRAINING_PYTHON, ['-c', PYTHON_SIDE, BUNDLE, work], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
      const pyIds = new Int32Array(new Uint8Array(readFileSync(join(work, 'ids.bin'))).buffer);
      expect(Array.from(pyIds)).toEqual(Array.from(ids));
      for (const name of Object.keys(node)) {
        const py = new Float32Array(new Uint8Array(readFileSync(join(work, `${name}.out`))).buffer);
        expect(py.length, name).toBe(node[name]!.length);
        expect(maxAbs(py, node[name]!), name).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      await backend.dispose();
    }
  }, 300_000); // starts Python (torch, onnxruntime): 76 s on a loaded 2-core machine
});

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? m : Number.POSITIVE_INFINITY;
}

const PYTHON_SIDE = `
import json, os, sys
import numpy as np, onnxruntime as ort
from transformers import PreTrainedTokenizerFast
bundle, work = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(bundle, 'manifest.json')))
g, c = m['graphs'], m['condition']
T, L = c['maxLength'], m['tokens']['count']
prompts = json.load(open(os.path.join(work, 'prompts.json')))
tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(bundle, c['tokenizer']['file']))
ids = np.array(tok(prompts, padding='max_length', truncation=True, max_length=T)['input_ids'], dtype=np.int32)
ids.tofile(os.path.join(work, 'ids.bin'))
rows = len(prompts)
load = lambda n, dt, shape: np.fromfile(os.path.join(work, n + '.bin'), dtype=dt).reshape(shape)
tokens, micro, codes = load('tokens', np.int32, (rows, L)), load('micro', np.float32, (rows, 5)), load('codes', np.int32, (rows, L))
run = lambda role, feeds: ort.InferenceSession(os.path.join(bundle, g[role]['file']), providers=['CPUExecutionProvider']).run(None, {g[role]['inputs'][k]['name']: v for k, v in feeds.items()})
def named(role, outs):
    names = [o.name for o in ort.InferenceSession(os.path.join(bundle, g[role]['file']), providers=['CPUExecutionProvider']).get_outputs()]
    return {k: outs[names.index(v['name'])] for k, v in g[role]['outputs'].items()}
enc = named('textEncoder', run('textEncoder', {'inputIds': ids}))
base = named('base', run('base', {'tokens': tokens, 'textStates': enc['textStates'], 'pooled': enc['pooled'], 'microConds': micro}))
head = named('head', run('head', {'feature': base['feature']}))
dec = named('decoder', run('decoder', {'tokens': codes}))
out = {'textStates': enc['textStates'], 'pooled': enc['pooled'], 'logits': base['logits'], 'feature': base['feature'], 'headLogits': head['logits'], 'pixels': dec['pixels']}
for k, v in out.items(): np.ascontiguousarray(v, dtype=np.float32).tofile(os.path.join(work, k + '.out'))
`;
