import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '@migm/core';
import { backendConformance } from '@migm/core/testing';
import type { OrtBackend } from '@migm/backend-ort';
import { createNodeBackend, readBundleDir } from '../src/index.js';

// The tiny bundle made by training/'s `tiny` preset; the default bundle is tested by the CLI's end-to-end tests.
const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));

describe('createNodeBackend conformance (cpu)', () => {
  const { cases, cleanup } = backendConformance({
    create: () => createNodeBackend({ bundle: TINY, threads: 1 }),
    liveFeatures: (b) => (b as OrtBackend).liveFeatures,
  });
  afterAll(cleanup);
  for (const c of cases) it(c.name, c.run);
});

describe('createNodeBackend devices', () => {
  it('defaults to the CPU', async () => {
    const b = await createNodeBackend({ bundle: TINY });
    expect([b.name, b.device]).toEqual(['onnxruntime-node', 'cpu']);
    await b.dispose();
  });
  it("asking for 'cuda' where it is absent is a clear UNSUPPORTED error that says how to enable it", async () => {
    await expect(createNodeBackend({ bundle: TINY, device: 'cuda' })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining('ONNXRUNTIME_NODE_INSTALL=cuda12'),
    });
  });
  it("'auto' falls back to the CPU and reports the fall-back", async () => {
    const fallbacks: string[] = [];
    const b = await createNodeBackend({ bundle: await readBundleDir(TINY), device: 'auto', onFallback: (f) => fallbacks.push(f.device) });
    expect(b.device).toBe('cpu');
    expect(fallbacks).toEqual(['cuda']);
    await b.dispose();
  });
  it('rejects unknown devices and bad thread counts', async () => {
    await expect(createNodeBackend({ bundle: TINY, device: 'tpu' as never })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('cpu, cuda, auto'),
    });
    await expect(createNodeBackend({ bundle: TINY, threads: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(createNodeBackend({} as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining("'bundle': got nothing") });
    await expect(createNodeBackend({ bundle: 42 } as never)).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('readBundleDir'),
    });
    await expect(createNodeBackend(undefined as never)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(createNodeBackend({ bundle: TINY, graphOptimizationLevel: 'max' as never })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('graphOptimizationLevel'),
    });
    await expect(createNodeBackend({ bundle: TINY, spinning: 'yes' as never })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('spinning'),
    });
  });
  it("refuses a non-boolean shortcut or classifier and a non-function onFallback (issue 27: 'no' loaded the shortcut, 5 was a TypeError)", async () => {
    for (const [key, value] of [
      ['shortcut', 'no'],
      ['classifier', 1],
      ['onFallback', 5],
    ] as const) {
      await expect(createNodeBackend({ bundle: TINY, device: 'auto', [key]: value } as never), key).rejects.toMatchObject({
        name: 'MigmError',
        code: 'INVALID_OPTION',
        message: expect.stringContaining(`'${key}'`),
      });
    }
    // false keeps the shortcut unloaded, as documented.
    const b = await createNodeBackend({ bundle: TINY, shortcut: false });
    expect(b.capabilities.velocity).toBe(false);
    await b.dispose();
  });
  it('runs with onnxruntime thread spinning on and off (same tokens)', async () => {
    const run = async (spinning: boolean) => {
      const b = await createNodeBackend({ bundle: TINY, spinning });
      const r = await generate(b, { condition: [1, 2], steps: 4, budget: 2, predictor: 'learned', seed: 3 });
      await b.dispose();
      return Array.from(r.tokens);
    };
    expect(await run(true)).toEqual(await run(false));
  });
});

describe('concurrent generate() on one backend', () => {
  it('gives each run the same result as running it alone', async () => {
    const b = await createNodeBackend({ bundle: TINY, threads: 1 });
    const opts = (seed: number) => ({ condition: [1, 2, 3], steps: 4, budget: 2, predictor: 'learned' as const, seed });
    const alone = await Promise.all([1, 2, 3].map(async (s) => Array.from((await generate(b, opts(s))).tokens)));
    const together = await Promise.all([1, 2, 3].map((s) => generate(b, opts(s))));
    expect(together.map((r) => Array.from(r.tokens))).toEqual(alone);
    expect(b.liveFeatures).toBe(0);
    await b.dispose();
  });
});

describe('createNodeBackend option keys', () => {
  it('refuses an unknown key naming the closest one, and takes null as the default', async () => {
    await expect(createNodeBackend({ bundle: TINY, thread: 1 } as never)).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining("did you mean 'threads'?"),
    });
    const b = await createNodeBackend({ bundle: TINY, device: null, threads: null } as never);
    expect(b.device).toBe('cpu');
    await b.dispose();
  });
});
