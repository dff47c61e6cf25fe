// createNodeBackend({ dtype }): a bundle with precision variants loads the chosen files only. The variant here is a
// byte copy of the default bundle's base graph listed as its int8 variant (the quantized graphs themselves are
// made and run by training/tests/test_quantize.py), so what is checked is the selection, not the arithmetic.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { isMigmError, type Manifest } from '@migm/core';
import { createNodeBackend, type LoadProgressEvent } from '../src/index.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'migm-dtype-'));
  const src = fileURLToPath(new URL('../../bundle-fashion-mnist/bundle/', import.meta.url));
  const m = JSON.parse(await readFile(join(src, 'manifest.json'), 'utf8')) as Manifest;
  for (const f of m.files) await copyFile(join(src, f.path), join(dir, f.path));
  await copyFile(join(src, m.graphs.base.file), join(dir, 'base.int8.onnx'));
  const base = m.files.find((f) => f.path === m.graphs.base.file)!;
  m.files.push({ ...base, path: 'base.int8.onnx' });
  m.graphs.base.variants = { int8: { file: 'base.int8.onnx', method: 'a byte copy, for this test' } };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(dtype?: Parameters<typeof createNodeBackend>[0]['dtype']) {
  const read: string[] = [];
  const onProgress = (e: LoadProgressEvent) => {
    if (e.type === 'file-done') read.push(e.file);
  };
  const backend = await createNodeBackend({ bundle: dir, threads: 1, onProgress, ...(dtype !== undefined ? { dtype } : {}) });
  return { backend, read };
}

describe('createNodeBackend dtype', () => {
  it('int8 reads the variant instead of the fp32 base, and the others as before', async () => {
    const { backend, read } = await load('int8');
    try {
      expect(read).toContain('base.int8.onnx');
      expect(read).not.toContain('base.onnx');
      expect(backend.manifest.graphs.base).toMatchObject({ file: 'base.int8.onnx', precision: 'int8' });
      expect(backend.manifest.graphs.head.precision).toBe('fp32');
      expect(backend.manifest.graphs.base.variants).toBeUndefined();
    } finally {
      await backend.dispose();
    }
  });

  it('fp32 (and fp16 on the CPU, and no dtype) leaves the variant unread', async () => {
    for (const d of ['fp32', 'fp16'] as const) {
      const { backend, read } = await load(d);
      try {
        expect(read).toContain('base.onnx');
        expect(read).not.toContain('base.int8.onnx');
        expect(backend.manifest.graphs.base).toMatchObject({ file: 'base.onnx', precision: 'fp32' });
      } finally {
        await backend.dispose();
      }
    }
    const { backend, read } = await load();
    await backend.dispose();
    expect(read).toContain('base.int8.onnx'); // without dtype every listed file is read and verified, as before
  });

  it('a bad dtype is INVALID_OPTION before any session', async () => {
    for (const [d, text] of [
      ['int3', 'allowed: fp32, fp16, int8, int4'],
      [{ head: 'int8' }, 'graph head has no int8 variant'],
    ] as const) {
      const err = await load(d as never).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isMigmError(err) && err.code === 'INVALID_OPTION' && err.message.includes(text)).toBe(true);
    }
  });
});
