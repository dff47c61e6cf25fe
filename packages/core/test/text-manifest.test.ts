import { describe, expect, it } from 'vitest';
import { validateManifest } from '../src/manifest/validate.js';
import { baseInputRoles, type Manifest } from '../src/manifest/types.js';
import { classCondition, textCondition } from '../src/manifest/condition.js';
import { testManifest } from '../src/testing/test-backend.js';
import { isMigmError } from '../src/errors.js';

// Loose access for mutating a copy of a manifest into invalid shapes.
type Mutable = Record<string, any>;
const clone = (m: Manifest): Mutable => JSON.parse(JSON.stringify(m)) as Mutable;

function problem(m: unknown): string {
  try {
    validateManifest(m);
  } catch (e) {
    return isMigmError(e, 'INVALID_MANIFEST') ? e.message : `unexpected: ${String(e)}`;
  }
  return '';
}

describe('text-conditioned manifests (family amused)', () => {
  const good = testManifest({ text: true });

  it('accepts the test model and names the base inputs of each condition', () => {
    expect(validateManifest(clone(good))).toEqual(good);
    expect(baseInputRoles(good)).toEqual(['tokens', 'textStates', 'pooled', 'microConds']);
    expect(baseInputRoles(testManifest())).toEqual(['tokens', 'classes']);
    const ids = clone(good);
    delete ids['graphs'].textEncoder;
    delete ids['condition'].microConditioning;
    expect(baseInputRoles(ids as Manifest)).toEqual(['tokens', 'promptIds']);
  });

  it('checks the text rules the schema cannot: tokenizer listed, micro-conditioning lengths, encoder and base agree, families', () => {
    const message = (f: (m: Mutable) => void): string => {
      const m = clone(good);
      f(m);
      return problem(m);
    };
    expect(message((m) => (m['files'] = m['files'].filter((f: { path: string }) => f.path !== 'tokenizer.json')))).toContain(
      'condition.tokenizer.file tokenizer.json is not listed in files',
    );
    expect(message((m) => m['condition'].microConditioning.default.pop())).toContain('5 names and 4 default values');
    expect(message((m) => (m['condition'].microConditioning.names[1] = 'width'))).toContain('repeats a name');
    expect(message((m) => (m['graphs'].base.inputs.textStates.shape = ['batch', 12, 5]))).toContain(
      'graphs.base.inputs.textStates: dimension 2 is 5, expected 4',
    );
    expect(message((m) => (m['graphs'].textEncoder.inputs.inputIds.shape = ['batch', 77]))).toContain(
      'graphs.textEncoder.inputs.inputIds: dimension 1 is 77, expected 12',
    );
    expect(message((m) => (m['graphs'].textEncoder.inputs.inputIds.dtype = 'float32'))).toContain('dtype float32');
    expect(message((m) => delete m['graphs'].base.inputs.pooled)).toContain("graphs.base.inputs lacks the 'pooled' tensor");
    expect(message((m) => delete m['graphs'].base.inputs.microConds)).toContain("lacks the 'microConds' tensor");
    expect(message((m) => (m['graphs'].base.inputs.classes = { name: 'classes', dtype: 'int32', shape: ['batch'] }))).toContain(
      "graphs.base.inputs has 'classes', but the bundle is conditioned on text",
    );
    expect(message((m) => delete m['graphs'].textEncoder)).toContain('family amused needs graphs.textEncoder');
    expect(message((m) => (m['family'] = 'maskgit'))).toContain('family maskgit is class-conditioned');
    const cls = clone(testManifest());
    cls['family'] = 'amused';
    expect(problem(cls)).toContain('family amused is text-conditioned');
    const withEncoder = clone(testManifest());
    withEncoder['graphs'].textEncoder = good.graphs.textEncoder;
    expect(problem(withEncoder)).toContain('graphs.textEncoder is set, but the bundle is conditioned on a class id');
  });

  it('refuses schema violations of the text condition with their location', () => {
    const m = clone(good);
    m['condition'].tokenizer.kind = 'sentencepiece';
    expect(problem(m)).toMatch(/condition/);
    const n = clone(good);
    n['condition'].maxLength = 0;
    expect(problem(n)).toMatch(/condition/);
    const s = clone(good);
    s['sampling'].schedule = 'cosine-ceil';
    expect(problem(s)).toContain('/sampling/schedule');
  });

  it('classCondition / textCondition give one UNSUPPORTED error naming what needed the other kind', () => {
    expect(() => classCondition(good, 'The evaluation classifier')).toThrow(/The evaluation classifier needs a class-conditioned bundle/);
    expect(textCondition(good, 'prompts').maxLength).toBe(12);
    expect(() => textCondition(testManifest(), 'prompts')).toThrow(/prompts needs a text-conditioned bundle/);
  });
});
