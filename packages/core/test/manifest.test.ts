import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { validateManifest, checkShortcutCompatibility } from '../src/manifest/validate.js';
import { verifyBundleFile, toHex } from '../src/manifest/verify-files.js';
import { testManifest } from '../src/testing/test-backend.js';
import { isMigmError } from '../src/errors.js';
import type { ClassCondition } from '../src/manifest/types.js';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function problem(m: unknown): { code?: string; message?: string } {
  try {
    validateManifest(m);
  } catch (e) {
    return isMigmError(e) ? { code: e.code, message: e.message } : { code: 'not-migm', message: String(e) };
  }
  return {};
}

describe('manifest validation', () => {
  const good = testManifest();
  it('accepts a valid manifest', () => {
    expect(validateManifest(clone(good))).toEqual(good);
  });
  it('refuses an unknown schema version, naming the supported ones', () => {
    expect(problem({ ...clone(good), schemaVersion: 2 })).toMatchObject({ code: 'INVALID_MANIFEST', message: expect.stringContaining('schemaVersion 2') });
    expect(problem('nope').code).toBe('INVALID_MANIFEST');
    expect(problem(null).code).toBe('INVALID_MANIFEST');
  });
  it('reports schema violations with their location', () => {
    const m = clone(good) as unknown as { tokens: { codebookSize: unknown } };
    m.tokens.codebookSize = 'big';
    expect(problem(m)).toMatchObject({ code: 'INVALID_MANIFEST', message: expect.stringContaining('/tokens/codebookSize') });
    const extra = { ...clone(good), surprise: true };
    expect(problem(extra).message).toContain('surprise');
    const bad = clone(good) as unknown as { files: { sha256: string }[] };
    bad.files[0]!.sha256 = 'XYZ';
    expect(problem(bad).message).toContain('/files/0/sha256');
  });
  it('checks what the schema cannot: grid size, ids, names, graph roles, shapes, dtypes and listed files', () => {
    const mutate = (f: (m: ReturnType<typeof clone<typeof good>>) => void): string => {
      const m = clone(good);
      f(m);
      return problem(m).message ?? '';
    };
    expect(mutate((m) => (m.tokens.grid = [4, 5]))).toContain('tokens.grid');
    expect(mutate((m) => (m.tokens.maskId = 3))).toContain('maskId');
    expect(mutate((m) => ((m.condition as ClassCondition).nullClassId = 1))).toContain('nullClassId');
    expect(mutate((m) => (m.condition as ClassCondition).classNames.pop())).toContain('classNames');
    expect(mutate((m) => (m.sampling.budget = 99))).toContain('budget');
    expect(mutate((m) => delete (m.graphs.base.outputs as Record<string, unknown>)['feature'])).toContain("lacks the 'feature'");
    expect(mutate((m) => (m.graphs.head.outputs['logits']!.shape = ['batch', 16, 9]))).toContain('dimension 2 is 9, expected 8');
    expect(mutate((m) => (m.graphs.base.inputs['tokens']!.dtype = 'float32'))).toContain('dtype float32');
    expect(mutate((m) => (m.graphs.decoder.file = 'missing.onnx'))).toContain('missing.onnx is not listed');
    // precision variants: each file listed, none the graph's own
    const listed = good.files[1]!.path; // a listed file that is not the base's
    expect(problem({ ...clone(good), graphs: { ...clone(good).graphs, base: { ...clone(good).graphs.base, variants: { int8: { file: listed } } } } })).toEqual(
      {},
    );
    expect(mutate((m) => (m.graphs.base.variants = { int4: { file: 'base.int4.onnx' } }))).toContain(
      'graphs.base.variants.int4.file base.int4.onnx is not listed',
    );
    expect(mutate((m) => (m.graphs.base.variants = { int8: { file: m.graphs.base.file } }))).toContain("graphs.base.variants.int8 is the graph's own file");
    expect(mutate((m) => ((m.graphs.base.precision = 'int8'), (m.graphs.base.variants = { int8: { file: listed } })))).toContain('graphs.base.variants.int8');
  });
  it('enforces the documented equalities and ranges that a manifest could pass the schema without', () => {
    const message = (f: (m: ReturnType<typeof clone<typeof good>>) => void): string => {
      const m = clone(good);
      f(m);
      return problem(m).message ?? '';
    };
    expect(message((m) => (m.tokens.maskId = m.tokens.codebookSize + 1))).toMatch(/maskId 9 must equal tokens.codebookSize 8/);
    expect(message((m) => ((m.condition as ClassCondition).nullClassId = (m.condition as ClassCondition).numClasses + 5))).toMatch(
      /nullClassId \d+ must equal condition.numClasses/,
    );
    // Ids that would wrap in Int32 never pass the schema.
    expect(message((m) => (m.tokens.maskId = 2 ** 31))).toContain('/tokens/maskId');
    expect(message((m) => (m.tokens.codebookSize = 2 ** 32))).toContain('/tokens/codebookSize');
    expect(message((m) => ((m.condition as ClassCondition).nullClassId = 2 ** 40))).toContain('/condition/nullClassId');
    expect(message((m) => (m.image.range = [1, 1]))).toMatch(/image.range \[1,1\] must be two finite numbers, low < high/);
    expect(message((m) => (m.image.range = [1, 0]))).toContain('image.range');
    // 16 tokens as [2, 8] multiply to the count but do not tile an 8x8 image with 2-pixel patches.
    expect(message((m) => (m.tokens.grid = [2, 8]))).toMatch(/tokens.grid \[2,8\] with patchSize 2 covers 16x4 pixels, the image is 8x8/);
    expect(
      message((m) => {
        m.tokens.grid = [2, 8];
        delete (m.tokens as { patchSize?: number }).patchSize;
      }),
    ).toContain('does not tile');
    expect(message((m) => (m.files[0]!.bytes = 2 ** 33))).toContain('/files/0/bytes');
  });
  it('refuses a shortcut trained for another base model, codebook or width (BUNDLE_MISMATCH)', () => {
    const m = clone(good);
    m.graphs.shortcut!.compatibility.baseSha256 = 'f'.repeat(64);
    expect(problem(m)).toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringContaining('another base model') });
    const other = clone(good.graphs.shortcut!);
    other.compatibility.featureDim = 7;
    expect(() => checkShortcutCompatibility(good, other)).toThrow(/feature width 7/);
    other.compatibility.featureDim = 6;
    other.compatibility.codebookSize = 99;
    expect(() => checkShortcutCompatibility(good, other)).toThrow(/codebook size 99/);
  });
  it('the generated TypeScript types are up to date with the JSON Schema', () => {
    execFileSync(process.execPath, ['scripts/gen-manifest-types.mjs', '--check'], { cwd: new URL('..', import.meta.url) });
  });
});

describe('bundle file verification', () => {
  const bytes = new TextEncoder().encode('hello onnx');
  const m = clone(testManifest());
  m.files[0] = { path: 'base.onnx', bytes: bytes.length, sha256: sha(bytes) };
  it('passes a matching file', async () => {
    await expect(verifyBundleFile(m, 'base.onnx', bytes, sha)).resolves.toBeUndefined();
  });
  it('names the file and the mismatch: unlisted, size, hash', async () => {
    await expect(verifyBundleFile(m, 'extra.onnx', bytes, sha)).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
      message: expect.stringContaining('extra.onnx is not listed'),
    });
    await expect(verifyBundleFile(m, 'base.onnx', bytes.subarray(1), sha)).rejects.toThrow(/base\.onnx has 9 bytes; the manifest says 10/);
    const tampered = bytes.slice();
    tampered[0] = 72;
    await expect(verifyBundleFile(m, 'base.onnx', tampered, sha)).rejects.toThrow(/base\.onnx has sha256 [0-9a-f]{64}; the manifest says/);
  });
  it('toHex formats digests', () => {
    expect(toHex(Uint8Array.from([0, 15, 255]))).toBe('000fff');
  });
});
