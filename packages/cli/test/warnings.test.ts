import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Manifest } from '@migm/core';
import { writeOnnxModel } from '../../backend-ort/src/onnx-writer.js';
import { main } from '../src/main.js';

// The libraries print nothing; what a backend finds while loading is in its `warnings`, and the CLI prints it.
// The bundle: the tiny one with a head that declares itself affine but is tanh(feature . W), so the load-time
// check turns guidedHead off with a warning.
const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'migm-cli-warn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bentBundle(): string {
  const out = join(dir, 'bent');
  cpSync(TINY, out, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  const { count: L, codebookSize: K } = manifest.tokens;
  const D = manifest.featureDim;
  const head = writeOnnxModel({
    name: 'bent-head',
    opset: 17,
    inputs: [{ name: 'feature', dtype: 'float', dims: ['batch', L, D] }],
    outputs: [{ name: 'logits', dtype: 'float', dims: ['batch', L, K] }],
    initializers: [{ name: 'W', dtype: 'float', dims: [D, K], values: Array.from({ length: D * K }, (_, i) => Math.sin(i) / 2) }],
    nodes: [
      { op: 'MatMul', inputs: ['feature', 'W'], outputs: ['z'] },
      { op: 'Tanh', inputs: ['z'], outputs: ['logits'] },
    ],
  });
  writeFileSync(join(out, 'head.onnx'), head);
  const entry = manifest.files.find((f) => f.path === 'head.onnx')! as { bytes: number; sha256: string };
  entry.bytes = head.length;
  entry.sha256 = createHash('sha256').update(head).digest('hex');
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return out;
}

describe('load-time warnings', () => {
  it('are printed by the CLI on stderr (migm: warning: ...), never by the libraries (no console.warn)', async () => {
    const bundle = bentBundle();
    const err: string[] = [];
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const code = await main(['generate', '--bundle', bundle, '--class', '3', '--method', 'taylor', '--quiet', '--out', join(dir, 'g.png')]);
      expect(code).toBe(0);
      expect(warn).not.toHaveBeenCalled();
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(/^migm: warning: head\.onnx: the manifest declares graphs\.head\.affine.*both guidance branches/);
    } finally {
      warn.mockRestore();
      error.mockRestore();
      log.mockRestore();
    }
  });
});
