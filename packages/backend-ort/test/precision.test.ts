import { describe, expect, it } from 'vitest';
import { isMigmError, type Manifest } from '@migm/core/backend';
import { testManifest } from '@migm/core/testing';
import { selectPrecision } from '../src/precision.js';

/** The test manifest with int8 / int4 / fp16 variants on base and shortcut, fp16 only on the decoder. */
function withVariants(): Manifest {
  const m = testManifest();
  const g = m.graphs;
  const variants = (role: string, precisions: readonly ('fp16' | 'int8' | 'int4')[]) =>
    Object.fromEntries(precisions.map((p) => [p, { file: `${role}.${p}.onnx` }]));
  return {
    ...m,
    graphs: {
      ...g,
      base: { ...g.base, variants: variants('base', ['int8', 'int4', 'fp16']) },
      shortcut: { ...g.shortcut!, variants: variants('shortcut', ['int8', 'int4', 'fp16']) },
      decoder: { ...g.decoder, variants: variants('decoder', ['fp16']) },
    },
  } as Manifest;
}

const files = (c: ReturnType<typeof selectPrecision>) => Object.fromEntries(Object.entries(c.manifest.graphs).map(([r, g]) => [r, g.file]));

describe('selectPrecision', () => {
  const m = withVariants();
  const fp32 = { base: m.graphs.base.file, head: m.graphs.head.file, decoder: m.graphs.decoder.file, shortcut: m.graphs.shortcut!.file };

  it('no dtype or fp32: every fp32 file, every variant unused', () => {
    for (const d of [undefined, 'fp32' as const]) {
      const c = selectPrecision(m, d, { fp16: true });
      expect(files(c)).toMatchObject(fp32);
      expect(c.unused.size).toBe(7);
      expect(Object.values(c.manifest.graphs).every((g) => g.variants === undefined && g.precision === 'fp32')).toBe(true);
    }
  });

  it('int8: the variants where a graph has one, fp32 elsewhere; the fp32 files it replaces are unused', () => {
    const c = selectPrecision(m, 'int8', { fp16: false });
    expect(files(c)).toMatchObject({ base: 'base.int8.onnx', shortcut: 'shortcut.int8.onnx', head: fp32.head, decoder: fp32.decoder });
    expect(c.precision).toMatchObject({ base: 'int8', shortcut: 'int8', head: 'fp32', decoder: 'fp32' });
    expect(c.unused.has(fp32.base) && c.unused.has('base.int4.onnx') && !c.unused.has('base.int8.onnx') && !c.unused.has(fp32.decoder)).toBe(true);
    // the original manifest is untouched: the shortcut's compatibility still names the fp32 base
    expect(m.graphs.base.file).toBe(fp32.base);
  });

  it('fp16 computes in float16 only where the device can; a per-role fp16 is loaded as asked', () => {
    expect(files(selectPrecision(m, 'fp16', { fp16: true }))).toMatchObject({ base: 'base.fp16.onnx', decoder: 'decoder.fp16.onnx' });
    expect(files(selectPrecision(m, 'fp16', { fp16: false }))).toMatchObject(fp32);
    expect(files(selectPrecision(m, { decoder: 'fp16', base: 'int4' }, { fp16: false }))).toMatchObject({
      base: 'base.int4.onnx',
      decoder: 'decoder.fp16.onnx',
      shortcut: fp32.shortcut,
    });
  });

  it('refuses an unknown dtype, an unknown role and a per-role variant the bundle lacks', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return isMigmError(err) ? `${err.code}: ${err.message}` : String(err);
      }
      return 'no error';
    };
    expect(code(() => selectPrecision(m, 'int3' as never, { fp16: false }))).toMatch(/^INVALID_OPTION: .*got "int3"; allowed: fp32, fp16, int8, int4/);
    expect(code(() => selectPrecision(m, { encoder: 'int8' } as never, { fp16: false }))).toMatch(/^INVALID_OPTION: .*no graph "encoder"/);
    expect(code(() => selectPrecision(m, { head: 'int8' }, { fp16: false }))).toMatch(/^INVALID_OPTION: .*graph head has no int8 variant \(it has fp32\)/);
    expect(code(() => selectPrecision(m, ['int8'] as never, { fp16: false }))).toMatch(/^INVALID_OPTION: .*got an array/);
  });
});
