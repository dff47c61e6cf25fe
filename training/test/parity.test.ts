// ONNX parity: every graph of the committed bundle, run with onnxruntime-node, must match the
// PyTorch outputs stored in test/fixtures/parity (random valid inputs, batch 2) to 1e-4.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');

const here = dirname(fileURLToPath(import.meta.url));
const bundleDir = process.env.MIGM_BUNDLE_DIR ?? join(here, '..', '..', 'packages', 'bundle-fashion-mnist', 'bundle');
const fixtureDir = process.env.MIGM_PARITY_FIXTURES ?? join(here, 'fixtures', 'parity');
const TOLERANCE = 1e-4;

interface Entry { name: string; dtype: string; dims: number[]; offset: number; bytes: number }
interface Fixture { inputs: Entry[]; outputs: Entry[] }
interface Manifest { graphs: Record<string, { file: string }> }

function view(buf: Buffer, e: Entry): Float32Array | Int32Array {
  const copy = buf.buffer.slice(buf.byteOffset + e.offset, buf.byteOffset + e.offset + e.bytes);
  return e.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy);
}

// A missing bundle is a failure (readFileSync throws), never a silent skip.
const manifest = JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8')) as Manifest;

describe('ONNX parity with PyTorch (onnxruntime-node)', () => {
  it('covers every graph role', () => {
    expect(Object.keys(manifest.graphs).sort()).toEqual(['base', 'classifier', 'decoder', 'head', 'shortcut']);
  });
  for (const [role, graph] of Object.entries(manifest.graphs)) {
    it(`${role} matches PyTorch within ${TOLERANCE}`, async () => {
      const index = JSON.parse(readFileSync(join(fixtureDir, `${role}.json`), 'utf8')) as Fixture;
      const blob = readFileSync(join(fixtureDir, `${role}.bin`));
      expect(existsSync(join(bundleDir, graph.file))).toBe(true);
      const session = await ort.InferenceSession.create(join(bundleDir, graph.file), { intraOpNumThreads: 1 });
      const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
      for (const e of index.inputs) {
        feeds[e.name] = new ort.Tensor(e.dtype === 'int32' ? 'int32' : 'float32', view(blob, e), e.dims);
      }
      const result = await session.run(feeds);
      for (const e of index.outputs) {
        const got = result[e.name];
        expect(got, `output ${e.name}`).toBeDefined();
        expect(Array.from(got.dims)).toEqual(e.dims);
        const want = view(blob, e) as Float32Array;
        const data = got.data as Float32Array;
        let maxDiff = 0;
        for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(data[i] - want[i]));
        expect(maxDiff, `${role}.${e.name} max abs diff`).toBeLessThanOrEqual(TOLERANCE);
      }
      await session.release();
    });
  }
});
